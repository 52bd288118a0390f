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


class UnownedScopeError(InvalidClientDefinitionError):
    """A user asked for a client with scopes beyond their own, or with withdraw."""


class NoTradingAccountError(InvalidClientDefinitionError):
    """A user without a trading account asked for a client that trades."""


class SigningKeyUnavailableError(IdentityError):
    """There is no usable signing key; tokens cannot be issued until one exists."""

    code = "server_error"


class InvalidGrantError(IdentityError):
    """The code, refresh token or credentials are invalid, expired, used or revoked."""

    code = "invalid_grant"


class UnauthorizedClientError(IdentityError):
    """The client may not use this grant type."""

    code = "unauthorized_client"


class UnsupportedResponseTypeError(IdentityError):
    code = "unsupported_response_type"


class LoginRequiredError(IdentityError):
    """`prompt=none` asked for no interaction, but a login is needed (OIDC Core §3.1.2.6)."""

    code = "login_required"


class UnmetAuthenticationRequirementsError(IdentityError):
    """The requested `acr_values` cannot be met, e.g. MFA asked of a user without it."""

    code = "unmet_authentication_requirements"


class InvalidUserDefinitionError(IdentityError):
    """A user cannot be created as described (bad email, name or role)."""


class WeakPasswordError(IdentityError):
    """The password breaks the policy: too short, too long, or too common."""


class AuthenticationFailedError(IdentityError):
    """Sign-in failed. One message for unknown user, wrong password, locked or disabled."""

    code = "invalid_grant"


class CannotDisableSelfError(IdentityError):
    """An admin tried to disable their own user, which would lock the door behind them."""


class MfaError(IdentityError):
    """An MFA operation is not possible in the current state (nothing to confirm, ...)."""
