"""Errors as RFC 9457 problem details (application/problem+json), in answers and in OpenAPI."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

PROBLEM_MEDIA_TYPE = "application/problem+json"
# One answer for "no such thing", "no token", "wrong token", "revoked" and "not yours":
# a 404 that confirms nothing about what exists (a 403 would).
NOT_FOUND = "Nothing here. If this is your feed, check that its link (with its token) is complete."


class InvalidParam(BaseModel):
    name: str
    reason: str


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field("about:blank", description="URI naming the problem type")
    title: str = Field(description="short summary of the problem type")
    status: int = Field(description="the HTTP status code")
    detail: str | None = Field(None, description="what went wrong this time")
    instance: str | None = Field(None, description="the request path")
    invalid_params: list[InvalidParam] | None = Field(None, alias="invalid-params")

    model_config = {"populate_by_name": True}


def _problem(status: int, detail: str | None, instance: str, headers: dict[str, str] | None = None,
             invalid: list[InvalidParam] | None = None) -> JSONResponse:
    body = Problem(title=HTTPStatus(status).phrase, status=status, detail=detail, instance=instance,
                   invalid_params=invalid)
    return JSONResponse(body.model_dump(by_alias=True, exclude_none=True), status_code=status,
                        media_type=PROBLEM_MEDIA_TYPE, headers=headers)


async def _http_problem(request: Request, exc: StarletteHTTPException) -> JSONResponse:
    detail = exc.detail if isinstance(exc.detail, str) else None
    return _problem(exc.status_code, detail, request.url.path, getattr(exc, "headers", None))


async def _validation_problem(request: Request, exc: RequestValidationError) -> JSONResponse:
    invalid = [InvalidParam(name=".".join(str(p) for p in error.get("loc", ())),
                            reason=str(error.get("msg", "invalid"))) for error in exc.errors()]
    return _problem(422, "The request has invalid parameters.", request.url.path, invalid=invalid)


def _problem_docs(description: str) -> dict[str, Any]:
    return {"description": description, "model": Problem}


# Attached to every router so each operation documents the errors it can answer.
PROBLEM_RESPONSES: dict[int | str, dict[str, Any]] = {
    404: _problem_docs("Not found — also a missing, wrong, revoked or out-of-scope token"),
    422: _problem_docs("Invalid parameters"),
}
BAD_REQUEST = {400: _problem_docs("A request this server cannot use (e.g. a body that is not JSON)")}


def install_problems(app: FastAPI) -> None:
    app.add_exception_handler(StarletteHTTPException, _http_problem)
    app.add_exception_handler(RequestValidationError, _validation_problem)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = get_openapi(title=app.title, version=app.version, description=app.description,
                                 routes=app.routes)
            _errors_as_problems(schema)
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


def _errors_as_problems(schema: dict[str, Any]) -> None:
    """FastAPI documents every `model` response as application/json; errors are problem+json."""
    for path in schema.get("paths", {}).values():
        for operation in path.values():
            for status, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                ref = content.get("application/json", {}).get("schema", {}).get("$ref", "")
                if ref.endswith("/Problem"):
                    content[PROBLEM_MEDIA_TYPE] = content.pop("application/json")
