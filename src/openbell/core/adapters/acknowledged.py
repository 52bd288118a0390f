"""The last acknowledged sequence, in a small file of the data directory.

A database can roll back silently: a lost or truncated SQLite `-wal`, an older database
file restored over a newer one, a write cache that lied. The journal then ends early
and looks sound. This file, written after every durable append and before any client
is answered, remembers how far the journal had reached and the checksum of the record
that ended there, so a start on a shorter journal, or on another tail of the same
length, is refused instead of handing out acknowledged sequence numbers again.

The file is 24 bytes, rewritten in place with one `pwrite` on a descriptor kept open:
a magic number, the sequence, the record's CRC-32, and a CRC-32 of those 20 bytes.
It is not fsynced (see docs/recovery.md): it survives the process being killed, as
the page cache does, but an operating-system crash may lose its last updates. Written
only after the database's commit is durable, it then falls behind, never ahead: that
costs detection, never a false refusal.
"""

import os
import struct
import zlib
from pathlib import Path
from typing import Final

from openbell.core.application.errors import IntegrityCheckError, JournalStorageError
from openbell.core.application.ports import Acknowledged

_MAGIC: Final = b"OBACK\x00\x00\x01"
_LAYOUT: Final = struct.Struct(">8sQI")
_SIZE: Final = _LAYOUT.size + 4


def _pack(acknowledged: Acknowledged) -> bytes:
    body = _LAYOUT.pack(_MAGIC, acknowledged.sequence, acknowledged.checksum)
    return body + struct.pack(">I", zlib.crc32(body))


def _unpack(data: bytes, path: Path) -> Acknowledged:
    body, tail = data[: _LAYOUT.size], data[_LAYOUT.size :]
    if len(data) != _SIZE or struct.pack(">I", zlib.crc32(body)) != tail:
        raise IntegrityCheckError(
            f"{path} is damaged ({len(data)} bytes, checksum mismatch): it no longer says "
            "how far the journal had reached; check the journal with `openbell journal "
            "verify`, then delete the file to accept the journal as it is"
        )
    magic, sequence, checksum = _LAYOUT.unpack(body)
    if magic != _MAGIC:
        raise IntegrityCheckError(f"{path} is not an openbell acknowledgement file")
    return Acknowledged(sequence, checksum)


class AcknowledgedFile:
    """The acknowledged mark in a file; writing keeps one descriptor open."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None

    def read(self) -> Acknowledged | None:
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as error:
            raise IntegrityCheckError(f"cannot read {self.path}: {error}") from error
        # Made just before a power cut, the file may come back empty: as good as none.
        return _unpack(data, self.path) if data else None

    def write(self, acknowledged: Acknowledged) -> None:
        try:
            if self._descriptor is None:
                self._descriptor = os.open(self.path, os.O_WRONLY | os.O_CREAT, 0o600)
            os.pwrite(self._descriptor, _pack(acknowledged), 0)
        except OSError as error:
            raise JournalStorageError(
                f"cannot record the acknowledged sequence: {error}"
            ) from error

    def close(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is not None:
            os.close(descriptor)
