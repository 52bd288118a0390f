"""Errors the journal and snapshot store raise and the sequencer reacts to.

They are defined here, not beside the adapters, so the sequencer can catch them
without importing a database driver.
"""

from openbell.shared.errors import OpenbellError


class JournalError(OpenbellError):
    """Base of every error a journal raises on purpose."""


class JournalSequenceError(JournalError):
    """A batch does not continue the journal: nothing of it was written.

    Either the sequence numbers inside the batch do not increase by one, or the
    first one is not the last durable sequence plus one. A writer that sees this
    has lost track of the journal and must recover before writing again.
    """


class JournalLockedError(JournalError):
    """Another writer holds the journal: there is only ever one sequencer per database."""


class JournalReadOnlyError(JournalError):
    """The journal was opened for reading only and cannot append."""


class JournalStorageError(JournalError):
    """The database under the journal failed.

    Raised from `append`, the batch may or may not be durable (a connection can
    drop after the commit was sent): do not acknowledge it, and recover from the
    journal before writing again.
    """


class JournalCorruptedError(JournalError):
    """Stored records do not read back as written: bad checksum, bad encoding, or a gap."""

    def __init__(self, message: str, first_sequence: int, last_sequence: int) -> None:
        super().__init__(
            f"journal corrupted at sequences {first_sequence}..{last_sequence}: {message}"
        )
        self.first_sequence = first_sequence
        self.last_sequence = last_sequence


class CodecError(OpenbellError, ValueError):
    """A value cannot be encoded for the journal or a snapshot, or bytes do not decode."""


class SnapshotStoreError(OpenbellError):
    """The database under the snapshot store failed; the journal still holds everything."""


class SnapshotConflictError(SnapshotStoreError):
    """A different state was already saved at the same sequence: the core is not deterministic."""


class IntegrityCheckError(OpenbellError):
    """A check of the stored journal found damage: the core refuses to run on it.

    The message names what was found and what an operator can do (docs/recovery.md).
    """
