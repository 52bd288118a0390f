"""Identity's errors carry the OAuth 2.0 error code clients branch on (RFC 6749 §5.2)."""

from openbell.shared.errors import OpenbellError


class IdentityError(OpenbellError):
    """Base of identity's errors; `code` is the RFC 6749 `error` value."""

    code = "invalid_request"


class InvalidRequestError(IdentityError):
    """The request is missing a parameter, repeats one, or is otherwise malformed."""

    code = "invalid_request"


class InvalidClientError(IdentityError):
    """Client authentication failed; never says whether the id, secret or status was wrong."""

    code = "invalid_client"


class UnsupportedGrantTypeError(IdentityError):
    code = "unsupported_grant_type"


class InvalidScopeError(IdentityError):
    """A requested scope is unknown, malformed, or beyond what the client may have."""

    code = "invalid_scope"


class InvalidClientDefinitionError(IdentityError):
    """A client cannot be created as described (bad name, unknown scope, missing account)."""


class SigningKeyUnavailableError(IdentityError):
    """There is no usable signing key; tokens cannot be issued until one exists."""

    code = "server_error"
