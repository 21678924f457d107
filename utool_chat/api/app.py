"""The FastAPI application mounted on Reflex's backend (rx.App(api_transformer=api)).

Every error leaves as contract.md's envelope; nothing below ever shows a stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match

from utool_chat import config
from utool_chat.api.envelope import error
from utool_chat.domain.errors import DomainError, RateLimited

log = logging.getLogger(__name__)

api = FastAPI(
    title="uTool Chat API",
    version="1.0.0",
    description="HTTP API of uTool Chat. See README.md for the Socket.IO protocol.",
    openapi_url="/openapi.json",
    docs_url="/docs",
    redoc_url=None,
)


@api.middleware("http")
async def limit_body_size(request: Request, call_next):  # noqa: ANN001, ANN201
    # Refuse oversized bodies before reading them (a 10 MB body must not cost 10 MB of work).
    length = request.headers.get("content-length")
    if length is not None:
        try:
            too_big = int(length) > config.settings.max_body_bytes
        except ValueError:
            return error(400, "Invalid Content-Length header.", "bad_request")
        if too_big:
            return error(413, f"Request body too large (limit {config.settings.max_body_bytes} bytes).", "payload_too_large")
    return await call_next(request)


@api.exception_handler(DomainError)
async def _domain_error(_request: Request, exc: DomainError):  # noqa: ANN201
    headers = {"Retry-After": str(exc.retry_after)} if isinstance(exc, RateLimited) else None
    return error(exc.status, exc.message, exc.code, headers)


@api.exception_handler(RequestValidationError)
async def _validation_error(_request: Request, exc: RequestValidationError):  # noqa: ANN201
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return error(400, "Invalid request: " + "; ".join(parts), "validation_error")


@api.exception_handler(StarletteHTTPException)
async def _http_error(_request: Request, exc: StarletteHTTPException):  # noqa: ANN201
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
    return error(exc.status_code, str(exc.detail), codes.get(exc.status_code, "http_error"))


@api.exception_handler(Exception)
async def _unexpected(_request: Request, exc: Exception):  # noqa: ANN201
    log.exception("unhandled error", exc_info=exc)
    return error(500, "Internal server error.", "internal_error")


def _include_routers() -> None:
    from utool_chat.api import auth, chat, friends

    api.include_router(auth.router)
    api.include_router(friends.router)
    api.include_router(chat.router)

    @api.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def _unknown_api_route(request: Request, rest: str):  # noqa: ANN202
        # Without this, unknown /api paths would fall through to Reflex's HTML 404. A known
        # path asked with the wrong method is a 405, not a 404.
        for route in api.routes:
            if getattr(route, "path", None) == "/api/{rest:path}":
                continue
            match, _ = route.matches(request.scope)
            if match == Match.PARTIAL:  # the path exists, the method does not
                return error(405, f"Method {request.method} is not allowed here.", "method_not_allowed")
        return error(404, "No such API endpoint.", "not_found")


_include_routers()
