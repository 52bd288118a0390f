"""The HTTP application every openbell service shares: factory, middleware, errors, API docs.

It knows no business rule. Contexts hand it their routers; the composition root hands it
the lifespan, the readiness check and the token verifier.
"""

from openbell.platform.web.app import Readiness, create_app, middleware_stack
from openbell.platform.web.middleware import (
    BodySizeLimitMiddleware,
    EdgeMiddleware,
    request_id_of,
)

__all__ = [
    "BodySizeLimitMiddleware",
    "EdgeMiddleware",
    "Readiness",
    "create_app",
    "middleware_stack",
    "request_id_of",
]
