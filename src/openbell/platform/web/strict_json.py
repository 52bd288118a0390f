"""JSON request bodies that name a member twice are refused with 400, on every route.

RFC 8259 leaves duplicate names to the parser: Python keeps the last, many WAFs and
proxies read the first. A body a filter in front of us saw as `{"side": "buy"}` must not
reach a handler as `{"side": "sell"}`, so no JSON body with a repeated name is served.

Direct routes decode their bodies with `loads` (see `direct.json_body`); every other route
is guarded by `StrictJsonMiddleware`, which sits after the direct routes so the order hot
path parses its body once. Anything else wrong with a body (not JSON, bad encoding) is
left to the route, so those answers do not change.
"""

import email.message
import json
from typing import Any, Final

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from openbell.platform.problems import ProblemError
from openbell.platform.web.errors import send_problem

_JSON: Final = "application/json"


class DuplicateKeyError(ValueError):
    """A JSON object in the body names the same member twice."""


def _unique_members(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    members = dict(pairs)
    if len(members) != len(pairs):
        raise DuplicateKeyError
    return members


def loads(body: bytes) -> Any:  # noqa: ANN401  # whatever the JSON holds
    """`json.loads`, refusing any object (nested ones too) with a repeated member name."""
    return json.loads(body, object_pairs_hook=_unique_members)


def duplicate_key() -> ProblemError:
    # The name is not echoed: the client knows what it sent, and logs need not hold it.
    return ProblemError(
        400,
        "Bad Request",
        reason="duplicate_key",
        detail="A JSON object in the body names the same member more than once.",
    )


def is_json_content_type(content_type: str | None) -> bool:
    """Whether FastAPI decodes a body of this type as JSON (it requires a JSON type)."""
    if content_type is None:
        return False
    if content_type == _JSON:
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def _content_type(scope: Scope) -> str | None:
    for name, value in scope["headers"]:
        if name == b"content-type":
            text: str = value.decode("latin-1")
            return text
    return None


def _has_duplicate_key(body: bytes) -> bool:
    try:
        loads(body)
    except DuplicateKeyError:
        return True
    except (ValueError, RecursionError):  # not JSON, not text, too deep: the route's answer
        return False
    return False


class StrictJsonMiddleware:
    """Reads a JSON body whole, refuses it if it repeats a member name, else replays it.

    Only requests with a JSON content type are read ahead; the body-size limit further
    out bounds what is buffered. A client that goes away mid-body is passed on as it was.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not is_json_content_type(_content_type(scope)):
            await self.app(scope, receive, send)
            return
        messages = await _read_messages(receive)
        body = b"".join(message.get("body", b"") for message in messages)
        if messages[-1]["type"] == "http.request" and _has_duplicate_key(body):
            await send_problem(scope, send, duplicate_key())
            return
        await self.app(scope, _replay(messages, receive), send)


async def _read_messages(receive: Receive) -> list[Message]:
    messages: list[Message] = []
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


def _replay(messages: list[Message], receive: Receive) -> Receive:
    pending = list(reversed(messages))

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay
