"""Error bases shared by every context."""


class OpenbellError(Exception):
    """Base of every error openbell raises on purpose."""


class NotFoundError(OpenbellError):
    """The thing asked for does not exist, or is not the caller's to see."""


class ConflictError(OpenbellError):
    """The request conflicts with the current state."""


class UnavailableError(OpenbellError):
    """A dependency cannot serve the request now; the same request may be retried later."""


class OverloadedError(UnavailableError):
    """Too much work is queued; back off before retrying."""
