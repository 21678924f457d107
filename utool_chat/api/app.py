"""The FastAPI application mounted on Reflex's backend (rx.App(api_transformer=api)).

Every error leaves as contract.md's envelope; nothing below ever shows a stack trace.
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

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


class BodySizeLimit:
    """413 for a body over config.settings.max_body_bytes, however it is framed.

    A declared Content-Length is judged before anything is read (a 10 MB body must not cost
    10 MB of work). A body without one (chunked) is read up to the limit before the route
    runs and refused as soon as it passes it: checking only the header would let any
    chunked request through, and refusing before the route runs also covers routes that
    never read their body."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = config.settings.max_body_bytes
        headers = Headers(scope=scope)
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await error(400, "Invalid Content-Length header.", "bad_request")(scope, receive, send)
            elif int(length) > limit:
                await _too_large(limit)(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _too_large(limit)(scope, receive, send)
                return
            if not message.get("more_body", False):
                break
        await self.app(scope, _replay(b"".join(chunks), receive), send)


def _too_large(limit: int) -> Response:
    return error(413, f"Request body too large (limit {limit} bytes).", "payload_too_large")


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive() that hands out the already-read body once, then defers to the server."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


api.add_middleware(BodySizeLimit)


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
