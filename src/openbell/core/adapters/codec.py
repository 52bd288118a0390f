"""The on-disk format of the core: commands, journal records and snapshot state, in msgpack.

A command is the array ``[tag, field, ...]``; its fields keep their declared
order, and an enum field is stored as its value. A journal record holds one
appended batch as ``[FORMAT_VERSION, [[sequence, timestamp, tag, [field, ...]], ...]]``
together with its sequence range and a CRC-32 of those bytes.

COMMAND TAGS ARE PART OF THE ON-DISK FORMAT. A tag must never be renumbered or
reused: a new command class takes the next unused number, and a removed class
retires its number forever. Fields may only be added at the end of a command,
with a default, so that records written before the field existed still decode.
"""

import zlib
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from enum import Enum
from operator import itemgetter
from types import MappingProxyType, NoneType, UnionType
from typing import Final, Protocol, cast, get_args, get_type_hints

import msgpack

from openbell.contracts.commands import (
    AmendOrder,
    CancelAllOrders,
    CancelOrder,
    Command,
    DefineAsset,
    Deposit,
    HaltMarket,
    ListInstrument,
    OpenAccount,
    PlaceOrder,
    ResumeMarket,
    SetReferencePrice,
)
from openbell.core.application.errors import (
    CodecError,
    JournalCorruptedError,
    JournalSequenceError,
)
from openbell.core.application.ports import JournalEntry, JournalRecord

FORMAT_VERSION: Final = 1
"""Version of the record layout; bump it only together with a reader for the old one."""

COMMAND_TAGS: Final[Mapping[type[Command], int]] = MappingProxyType(
    {
        DefineAsset: 1,
        ListInstrument: 2,
        SetReferencePrice: 3,
        HaltMarket: 4,
        ResumeMarket: 5,
        OpenAccount: 6,
        Deposit: 7,
        PlaceOrder: 8,
        CancelOrder: 9,
        AmendOrder: 10,
        CancelAllOrders: 11,
    },
)
"""Never renumber or reuse a tag: see the module docstring."""

# Exceptions msgpack raises on bytes it cannot read; OutOfData is not a ValueError.
_UNPACK_ERRORS: Final = (ValueError, TypeError, msgpack.UnpackException)
_PACK_ERRORS: Final = (ValueError, TypeError, OverflowError)
_new_tuple: Final = tuple.__new__
_sequence_of: Final = itemgetter(0)
_Rows = tuple[tuple[int, int, int, tuple[object, ...]], ...]


class _CommandCodec:
    """How one command class is checked, encoded and decoded."""

    __slots__ = ("arity", "command_class", "defaults", "enum_fields", "required", "tag")

    def __init__(self, command_class: type[Command], tag: int) -> None:
        self.command_class = command_class
        self.tag = tag
        self.arity = len(command_class._fields)
        self.defaults = tuple(command_class._field_defaults.values())
        self.required = self.arity - len(self.defaults)
        self.enum_fields = _enum_fields(command_class)

    def check(self, command: Command) -> int:
        """Refuse a command that would not decode back; return its tag."""
        for index, members in self.enum_fields:
            if command[index] not in members:
                raise self._enum_error(command)
        return self.tag

    def _enum_error(self, command: Command) -> CodecError:
        names = self.command_class._fields
        invalid = [
            f"{names[index]}={command[index]!r}"
            for index, members in self.enum_fields
            if command[index] not in members
        ]
        return CodecError(f"{self.command_class.__name__}: not enum members: {', '.join(invalid)}")

    def decode(self, fields: tuple[object, ...]) -> Command:
        if type(fields) is not tuple:
            raise CodecError(f"tag {self.tag}: command fields are not an array")
        if len(fields) != self.arity:
            fields = self._with_defaults(fields)
        if not self.enum_fields:
            return _new_tuple(self.command_class, fields)
        values = list(fields)
        try:
            for index, members in self.enum_fields:
                values[index] = members[values[index]]
        except (KeyError, TypeError) as error:
            raise CodecError(f"tag {self.tag}: not an enum value: {error}") from error
        return _new_tuple(self.command_class, values)

    def _with_defaults(self, fields: tuple[object, ...]) -> tuple[object, ...]:
        # Records written before a defaulted field was appended lack its value.
        if not self.required <= len(fields) < self.arity:
            raise CodecError(
                f"tag {self.tag} ({self.command_class.__name__}) takes {self.arity} fields, "
                f"got {len(fields)}",
            )
        return (*fields, *self.defaults[len(fields) - self.required :])


def _enum_fields(command_class: type[Command]) -> tuple[tuple[int, dict[object, object]], ...]:
    """(field index, value -> member) for every enum-typed field, `Enum | None` included."""
    fields = []
    for index, hint in enumerate(get_type_hints(command_class).values()):
        options = get_args(hint) if isinstance(hint, UnionType) else (hint,)
        enums = [
            option for option in options if isinstance(option, type) and issubclass(option, Enum)
        ]
        if not enums:
            continue
        if len(enums) > 1 or not set(options) <= {enums[0], NoneType}:
            raise TypeError(f"{command_class.__name__}: unsupported field type {hint}")
        members: dict[object, object] = {member.value: member for member in enums[0]}
        if NoneType in options:
            members[None] = None
        fields.append((index, members))
    return tuple(fields)


_CODECS: Final = {
    command_class: _CommandCodec(command_class, tag) for command_class, tag in COMMAND_TAGS.items()
}
_DECODERS: Final[dict[object, Callable[[tuple[object, ...]], Command]]] = {
    codec.tag: codec.decode for codec in _CODECS.values()
}


_TAGGERS: Final[dict[type, Callable[[Command], int]]] = {
    command_class: codec.check for command_class, codec in _CODECS.items()
}
"""Class -> bound `check`: one call per entry on the append path."""


def _tag_of(command: Command) -> int:
    try:
        tagger = _TAGGERS[type(command)]
    except KeyError:
        raise CodecError(f"not a journaled command: {type(command).__name__}") from None
    return tagger(command)


def _pack(value: object) -> bytes:
    try:
        return cast("bytes", msgpack.packb(value, use_bin_type=True))
    except _PACK_ERRORS as error:
        raise CodecError(f"cannot encode: {error}") from error


def _unpack(data: bytes) -> object:
    try:
        return msgpack.unpackb(data, raw=False, use_list=False)
    except _UNPACK_ERRORS as error:
        raise CodecError(f"not valid msgpack: {error}") from error


def encode_command(command: Command) -> bytes:
    """Encode one command as ``[tag, field, ...]``."""
    return _pack((_tag_of(command), *command))


def decode_command(data: bytes) -> Command:
    """Decode what `encode_command` wrote; raise CodecError on anything else."""
    value = _unpack(data)
    if not isinstance(value, tuple) or not value:
        raise CodecError("a command is a non-empty array")
    return _decoder(value[0])(value[1:])


def _decoder(tag: object) -> Callable[[tuple[object, ...]], Command]:
    try:
        return _DECODERS[tag]
    except (KeyError, TypeError):
        raise CodecError(f"unknown command tag {tag!r}") from None


def encode_entries(entries: Sequence[JournalEntry]) -> bytes:
    """Encode a batch of journal entries as one record payload."""
    try:
        rows = [
            (sequence, timestamp, _TAGGERS[type(command)](command), command)
            for sequence, timestamp, command in entries
        ]
    except KeyError:
        # Only the fast path's lookup raises KeyError: name the first unknown command.
        for entry in entries:
            _tag_of(entry.command)
        raise
    return _pack((FORMAT_VERSION, rows))


def decode_entries(data: bytes) -> list[JournalEntry]:
    """Decode what `encode_entries` wrote; raise CodecError on anything else."""
    rows = _rows_of(_unpack(data))
    try:
        return [
            _new_tuple(JournalEntry, (sequence, timestamp, _DECODERS[tag](fields)))
            for sequence, timestamp, tag, fields in rows
        ]
    except CodecError:
        raise
    except (KeyError, TypeError, ValueError) as error:
        # The fast path above cannot tell what went wrong; find the culprit for the message.
        raise _explain(rows) from error


def _rows_of(value: object) -> _Rows:
    if not isinstance(value, tuple) or len(value) != 2:
        raise CodecError("a journal record is [version, entries]")
    version, rows = value
    if version != FORMAT_VERSION:
        raise CodecError(f"unknown journal format version {version!r}")
    if not isinstance(rows, tuple):
        raise CodecError("journal entries are not an array")
    # Each row's shape is checked by unpacking it on the fast path, see decode_entries.
    return cast("_Rows", rows)


def _explain(rows: Sequence[object]) -> CodecError:
    for index, row in enumerate(rows):
        if not isinstance(row, tuple) or len(row) != 4:
            return CodecError(f"entry {index} is not [sequence, timestamp, tag, fields]")
        if not isinstance(row[3], tuple):
            return CodecError(f"entry {index}: command fields are not an array")
        _decoder(row[2])
    return CodecError("undecodable journal entries")


def encode_state(state: object) -> bytes:
    """Encode snapshot state: nested dicts (str or int keys), lists, ints, strs, bools, None, bytes.

    Types that would not come back as themselves (tuples, enums, subclasses) are refused.
    """
    try:
        return cast("bytes", msgpack.packb(state, use_bin_type=True, strict_types=True))
    except _PACK_ERRORS as error:
        raise CodecError(f"state cannot be encoded: {error}") from error


def decode_state(data: bytes) -> object:
    """Decode what `encode_state` wrote."""
    try:
        return msgpack.unpackb(data, raw=False, use_list=True, strict_map_key=False)
    except _UNPACK_ERRORS as error:
        raise CodecError(f"state does not decode: {error}") from error


DISCONTINUITIES: Final = """
    SELECT previous_last, first_sequence, last_sequence FROM (
        SELECT first_sequence, last_sequence,
            lag(last_sequence, 1, 0) OVER (ORDER BY first_sequence) AS previous_last
        FROM core_journal
    ) AS records WHERE first_sequence <> previous_last + 1 ORDER BY first_sequence LIMIT {limit}
"""
"""Records that do not start right after the one before: one scan, on SQLite and PostgreSQL.

Format `limit` with the driver's placeholder (``?`` or ``$1``)."""


def checksum(payload: bytes) -> int:
    """CRC-32 of a payload: it detects torn or flipped bytes, not deliberate tampering."""
    return zlib.crc32(payload)


def check_continues(entries: Sequence[JournalEntry], last_sequence: int) -> None:
    """Raise JournalSequenceError unless `entries` are numbered last_sequence + 1, + 2, ..."""
    first = last_sequence + 1
    if entries[0].sequence != first:
        raise JournalSequenceError(
            f"batch starts at sequence {entries[0].sequence}; the journal expects {first}",
        )
    if list(map(_sequence_of, entries)) != list(range(first, first + len(entries))):
        raise JournalSequenceError("sequence numbers inside the batch do not increase by one")


def encode_record(entries: Sequence[JournalEntry], last_sequence: int) -> JournalRecord:
    """Check that a non-empty batch continues the journal and encode it as one record."""
    check_continues(entries, last_sequence)
    payload = encode_entries(entries)
    return JournalRecord(
        first_sequence=entries[0].sequence,
        last_sequence=entries[-1].sequence,
        entry_count=len(entries),
        payload=payload,
        checksum=checksum(payload),
    )


def decode_record(record: JournalRecord) -> list[JournalEntry]:
    """Verify a stored record and decode its entries; raise JournalCorruptedError if it is bad."""
    first, last = record.first_sequence, record.last_sequence
    if checksum(record.payload) != record.checksum:
        raise JournalCorruptedError("checksum mismatch", first, last)
    try:
        entries = decode_entries(record.payload)
    except CodecError as error:
        raise JournalCorruptedError(str(error), first, last) from error
    if (
        len(entries) != record.entry_count
        or last - first + 1 != len(entries)
        or entries[0].sequence != first
        or entries[-1].sequence != last
    ):
        raise JournalCorruptedError("entries do not match the record's sequence range", first, last)
    return entries


def entries_after(
    record: JournalRecord,
    after_sequence: int,
    *,
    may_start_before: bool = False,
) -> list[JournalEntry]:
    """The record's entries numbered above `after_sequence`, verified.

    Reading checks every record against the one before: it must start at
    `after_sequence + 1`. Only the first record of a read, found by the sequence
    it holds, may start earlier. A record that starts later means records are
    missing, one that starts earlier means records overlap; either way the
    journal cannot be replayed, so both raise JournalCorruptedError.
    """
    expected = after_sequence + 1
    first, last = record.first_sequence, record.last_sequence
    if first > expected:
        raise JournalCorruptedError("records are missing", expected, first - 1)
    if first < expected and not (may_start_before and last >= expected):
        raise JournalCorruptedError("records overlap", first, last)
    entries = decode_record(record)
    skip = expected - first
    return entries[skip:] if skip else entries


class RecordSource(Protocol):
    """The three range queries every journal answers; `stream_entries` does the rest."""

    async def record_holding(self, sequence: int) -> JournalRecord | None:
        """The record whose sequence range holds `sequence`, if there is one."""
        ...

    async def records_between(self, after_first: int, up_to_first: int) -> list[JournalRecord]:
        """Records with `after_first < first_sequence <= up_to_first`, in order."""
        ...

    async def first_sequence_after(self, after_first: int) -> int | None:
        """The smallest first sequence above `after_first`, if any."""
        ...


async def stream_entries(
    source: RecordSource,
    after_sequence: int,
    chunk_entries: int,
) -> AsyncIterator[JournalEntry]:
    """Yield the journal's entries above `after_sequence`, verifying every record.

    Records are fetched a sequence range of about `chunk_entries` at a time, so a
    read never holds the journal in memory, nor a transaction open between chunks.
    """
    position = after_sequence
    start = await source.record_holding(position + 1)
    if start is not None:
        for entry in entries_after(start, position, may_start_before=True):
            yield entry
        position = start.last_sequence
    lower = start.first_sequence if start is not None else position
    while records := await source.records_between(lower, position + chunk_entries):
        for record in records:
            for entry in entries_after(record, position):
                yield entry
            position = record.last_sequence
        lower = records[-1].first_sequence
    # A contiguous journal's next record starts at position + 1, inside the range
    # just read; one further on means the records between were lost.
    following = await source.first_sequence_after(lower)
    if following is not None:
        raise JournalCorruptedError("records are missing", position + 1, following - 1)
