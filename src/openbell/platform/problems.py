"""RFC 9457 problem details: the one error shape every HTTP response uses."""

from typing import Any

PROBLEM_JSON = "application/problem+json"
PROBLEM_CONTENT: dict[str, Any] = {
    "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}
}
"""An OpenAPI response's content for a problem: spread into a route's `responses` entry."""


class ProblemError(Exception):
    """Raise from a route to answer with a problem+json document.

    `reason` is the machine-readable code clients branch on; `detail` must never
    carry internals (no stack traces, SQL, file paths or secrets).
    """

    def __init__(
        self,
        status: int,
        title: str,
        *,
        reason: str | None = None,
        detail: str | None = None,
        headers: dict[str, str] | None = None,
        extensions: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(title)
        self.status = status
        self.title = title
        self.reason = reason
        self.detail = detail
        self.headers = headers or {}
        self.extensions = extensions or {}

    def to_document(self, instance: str | None = None) -> dict[str, Any]:
        document: dict[str, Any] = {
            "type": f"https://openbell.dev/problems/{self.reason or _slug(self.title)}",
            "title": self.title,
            "status": self.status,
        }
        if self.detail:
            document["detail"] = self.detail
        if self.reason:
            document["reason"] = self.reason
        if instance:
            document["instance"] = instance
        document.update(self.extensions)
        return document


def _slug(title: str) -> str:
    return "-".join(title.lower().split())
