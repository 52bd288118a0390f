"""Error bases shared by every context."""


class OpenbellError(Exception):
    """Base of every error openbell raises on purpose."""


class NotFoundError(OpenbellError):
    """The thing asked for does not exist, or is not the caller's to see."""


class ConflictError(OpenbellError):
    """The request conflicts with the current state."""
