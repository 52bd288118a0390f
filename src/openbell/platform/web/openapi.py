"""Make the OpenAPI document describe the errors the application really sends.

FastAPI documents validation failures as its own `HTTPValidationError` JSON; openbell
answers them as problem+json, and schema-driven tests hold the API to its document.
"""

from typing import Any

from fastapi import FastAPI

from openbell.platform.problems import PROBLEM_JSON

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "description": "RFC 9457 problem details.",
    "type": "object",
    "required": ["type", "title", "status"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "reason": {"type": "string", "description": "Machine-readable cause to branch on."},
        "instance": {"type": "string"},
        "request_id": {"type": "string"},
    },
}

VALIDATION_PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "ValidationProblem",
    "allOf": [
        {"$ref": "#/components/schemas/Problem"},
        {
            "type": "object",
            "required": ["errors"],
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["location", "message", "type"],
                        "properties": {
                            "location": {"type": "array", "items": {"type": "string"}},
                            "message": {"type": "string"},
                            "type": {"type": "string"},
                        },
                    },
                },
            },
        },
    ],
}

_FASTAPI_VALIDATION_SCHEMAS = ("HTTPValidationError", "ValidationError")


def _rewrite_validation_responses(schema: dict[str, Any]) -> None:
    for operations in schema.get("paths", {}).values():
        for operation in operations.values():
            response = (
                operation.get("responses", {}).get("422") if isinstance(operation, dict) else None
            )
            if response is not None:
                response["description"] = "Validation Problem"
                response["content"] = {
                    PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/ValidationProblem"}}
                }
    schemas = schema.setdefault("components", {}).setdefault("schemas", {})
    for name in _FASTAPI_VALIDATION_SCHEMAS:
        schemas.pop(name, None)
    schemas["Problem"] = PROBLEM_SCHEMA
    schemas["ValidationProblem"] = VALIDATION_PROBLEM_SCHEMA


def use_problem_schemas(app: FastAPI) -> None:
    """Patch `app.openapi` so the generated document names problem+json for 422s."""
    generate = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = generate()  # FastAPI caches it in app.openapi_schema, which this edits
        _rewrite_validation_responses(schema)
        return schema

    app.openapi = openapi  # type: ignore[method-assign]
