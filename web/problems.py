"""RFC 9457 problem+json answers: how every error of the product is rendered over HTTP.

`install_error_handlers(app)` maps them in one place: an `ApiError` by its status and code,
a `Gs1Error` is a 400 with the GS1 reason as code, a `ContractError` a 409 or 422
(`domain.errors.CONTRACT_ERROR_STATUS`) named after the Solidity error. Any other exception
is a 500 `internal_error` that says nothing of its cause (the traceback goes to the log
only).
"""

from __future__ import annotations

from typing import Any

import requests
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from medledger.domain.errors import ApiError, ProblemCode, RateLimited, contract_error_status
from medledger.sdk.errors import ContractError, Gs1Error
from medledger.web.security_headers import security_headers

__all__ = ["PROBLEM_JSON", "install_error_handlers", "problem", "problem_for"]

PROBLEM_JSON = "application/problem+json"


def problem(
    status: int,
    code: str,
    title: str,
    detail: str,
    *,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body = {
        "type": f"urn:medledger:problem:{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        **extra,
    }
    return JSONResponse(body, status_code=status, media_type=PROBLEM_JSON, headers=headers)


def problem_for(exc: ApiError) -> JSONResponse:
    """The problem+json answer to `exc`."""
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    extra = {k: _jsonable(v) for k, v in exc.extra.items()}
    return problem(exc.status, exc.code, exc.title, exc.detail, headers=headers, **extra)


def _jsonable(value: Any) -> Any:
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "code"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "code": {"type": "string"},
    },
    "additionalProperties": True,
    "examples": [
        {
            "type": "urn:medledger:problem:empty",
            "title": "Invalid GS1 code",
            "status": 400,
            "detail": "the code is empty",
            "code": "empty",
        }
    ],
}


def _document_problems(app: FastAPI) -> None:
    """Make the OpenAPI document say what the handlers below really send: every operation
    may answer a 4XX/5XX problem+json, and FastAPI's 422 is ours, not HTTPValidationError."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        schema = build()
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM_SCHEMA
        problem_response = {
            "description": "a problem (RFC 9457)",
            "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for path_item in schema.get("paths", {}).values():
            for operation in path_item.values():
                responses = operation.setdefault("responses", {})
                responses.pop("422", None)
                responses.setdefault("4XX", problem_response)
                responses.setdefault("5XX", problem_response)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


_RETRY = {"Retry-After": "2"}


def install_error_handlers(app: FastAPI) -> None:
    _document_problems(app)

    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return problem_for(exc)

    @app.exception_handler(Gs1Error)
    async def _gs1_error(_: Request, exc: Gs1Error) -> JSONResponse:
        return problem(400, exc.code, "Invalid GS1 code", str(exc))

    @app.exception_handler(ContractError)
    async def _contract_error(_: Request, exc: ContractError) -> JSONResponse:
        status = contract_error_status(exc)
        args = {k: _jsonable(v) for k, v in exc.args_by_name.items()}
        return problem(status, exc.name, "Refused by a ledger rule", str(exc), arguments=args)

    @app.exception_handler(requests.ConnectionError)
    async def _chain_down(_: Request, exc: requests.ConnectionError) -> JSONResponse:
        # web3's HTTP provider could not reach the node (restarting, or down).
        detail = "the ledger node is unreachable; retry shortly"
        code = ProblemCode.CHAIN_UNAVAILABLE
        return problem(503, code, "Ledger unavailable", detail, headers=_RETRY)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"location": list(e.get("loc", ())), "message": e.get("msg", ""), "type": e.get("type")}
            for e in exc.errors()
        ]
        return problem(
            422,
            ProblemCode.INVALID_REQUEST,
            "Invalid request",
            "the request does not match the schema",
            errors=errors,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        codes = {404: ProblemCode.NOT_FOUND, 405: ProblemCode.METHOD_NOT_ALLOWED}
        code = codes.get(exc.status_code, ProblemCode.HTTP_ERROR)
        return problem(exc.status_code, code, str(exc.detail), str(exc.detail))

    # Starlette's outermost middleware answers with this handler, outside every other
    # middleware (so it adds the security headers itself), then re-raises the exception
    # for the server to log with its traceback.
    @app.exception_handler(Exception)
    async def _unexpected(request: Request, _: Exception) -> JSONResponse:
        detail = "the request failed on our side; it has been logged"
        response = problem(500, ProblemCode.INTERNAL_ERROR, "Internal error", detail)
        for name, value in security_headers(request.scope):
            response.headers[name.decode()] = value.decode()
        return response
