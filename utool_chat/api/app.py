"""The FastAPI application mounted on Reflex's backend (rx.App(api_transformer=api)).

Every error leaves as contract.md's envelope; nothing below ever shows a stack trace.
"""

from __future__ import annotations

import logging

import anyio
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response
from starlette.routing import Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from utool_chat import config
from utool_chat.api.envelope import error
from utool_chat.domain.errors import DomainError, Unavailable

log = logging.getLogger(__name__)

api = FastAPI(
    title="uTool Chat API",
    version="1.0.0",
    description="HTTP API of uTool Chat. See README.md for the Socket.IO protocol.",
    openapi_url="/openapi.json",
    docs_url="/docs",
    redoc_url=None,
)


# Paths whose bodies are files: streamed to the route (never buffered here) and allowed up to
# max_upload_request_bytes(). Reflex's own upload endpoint (rx.upload) is one of them.
UPLOAD_PATHS = ("/api/v1/chat/uploads", "/_upload")
# How much of a refused body is read and thrown away so that the client reads the answer
# (see _RequestBody); beyond this, or after DRAIN_SECONDS, the connection is simply closed.
DRAIN_MAX_BYTES = 64 * 2**20
DRAIN_SECONDS = 15.0


def max_upload_request_bytes() -> int:
    from utool_chat.domain.messages import MAX_ATTACHMENTS

    # Every file at the limit, plus room for the multipart framing.
    return config.settings.max_upload_bytes * MAX_ATTACHMENTS + 2**20


class BodySizeLimit:
    """413 for a body over the limit, however it is framed, answered so that every client
    reads it.

    The limit is config.settings.max_body_bytes, or max_upload_request_bytes() on UPLOAD_PATHS
    (whose routes enforce MAX_UPLOAD_BYTES per file themselves, as they stream). A declared
    Content-Length is judged before anything is read. A body without one (chunked) is read
    up to the limit before the route runs and refused as soon as it passes it: checking only
    the header would let any chunked request through, and refusing before the route runs also
    covers routes that never read their body. Upload bodies are not read ahead: they stream.

    Any answer that goes out before the request body has been read (a 413, a 401 for an
    upload without a token, ...) first reads and discards the rest of the body, up to
    DRAIN_MAX_BYTES / DRAIN_SECONDS: a client that sends its whole body before reading
    (httpx's async client does) would otherwise get a connection reset instead of the answer,
    as the server closes a connection with unread bytes in it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        body = _RequestBody(receive, headers)
        receive, send = body.receive, body.drained_before(send)
        is_upload = scope.get("path", "") in UPLOAD_PATHS
        limit = max_upload_request_bytes() if is_upload else config.settings.max_body_bytes
        length = headers.get("content-length")
        if length is not None:
            if not length.isdigit():
                await error(400, "Invalid Content-Length header.", "bad_request")(scope, receive, send)
            elif int(length) > limit:
                await _too_large(limit)(scope, receive, send)
            else:
                await self.app(scope, receive, send)
            return
        if is_upload:
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


class _RequestBody:
    """Watches a request's body go by, and drains what is left of it before an early answer."""

    def __init__(self, receive: Receive, headers: Headers) -> None:
        self._receive = receive
        length = headers.get("content-length")
        self.declared = int(length) if length is not None and length.isdigit() else None
        chunked = "chunked" in headers.get("transfer-encoding", "").lower()
        self.unread = chunked or bool(self.declared)
        self.received = 0
        self.asked = False  # the app asked for the body (the server then sends 100 Continue)
        self.expects_continue = headers.get("expect", "").lower() == "100-continue"

    async def receive(self) -> Message:
        self.asked = True
        message = await self._receive()
        if message["type"] == "http.request":
            self.received += len(message.get("body", b""))
            if not message.get("more_body", False):
                self.unread = False
        else:
            self.unread = False
        return message

    def drained_before(self, send: Send) -> Send:
        async def send_after_draining(message: Message) -> None:
            if message["type"] == "http.response.start" and self.unread:
                await self._drain()
            await send(message)

        return send_after_draining

    async def _drain(self) -> None:
        if self.expects_continue and not self.asked:
            return  # the client waits for "100 Continue" and has sent nothing: nothing to drain
        if self.declared is not None and self.declared - self.received > DRAIN_MAX_BYTES:
            return  # too much to be worth reading: the server will close the connection
        drained = 0
        with anyio.move_on_after(DRAIN_SECONDS):
            while self.unread and drained <= DRAIN_MAX_BYTES:
                message = await self.receive()
                drained += len(message.get("body", b""))


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
async def _domain_error(_request: Request, exc: DomainError):
    retry_after = getattr(exc, "retry_after", None)  # RateLimited, Unavailable
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    # An outage also says it in the body (contract: the web app keeps the message and retries).
    extra = {"retryAfter": retry_after} if isinstance(exc, Unavailable) else None
    return error(exc.status, exc.message, exc.code, headers, extra)


@api.exception_handler(RequestValidationError)
async def _validation_error(_request: Request, exc: RequestValidationError):
    parts = []
    for e in exc.errors():
        loc = ".".join(str(p) for p in e.get("loc", ()) if p not in ("body", "query", "path"))
        parts.append(f"{loc}: {e.get('msg')}" if loc else str(e.get("msg")))
    return error(400, "Invalid request: " + "; ".join(parts), "validation_error")


@api.exception_handler(StarletteHTTPException)
async def _http_error(_request: Request, exc: StarletteHTTPException):
    codes = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized", 403: "forbidden"}
    return error(exc.status_code, str(exc.detail), codes.get(exc.status_code, "http_error"))


@api.exception_handler(Exception)
async def _unexpected(_request: Request, exc: Exception):
    log.exception("unhandled error", exc_info=exc)
    return error(500, "Internal server error.", "internal_error")


def _include_routers() -> None:
    from utool_chat.api import auth, chat, friends, me, search, uploads

    api.include_router(auth.router)
    api.include_router(me.router)
    api.include_router(friends.router)
    api.include_router(chat.router)
    api.include_router(uploads.router)
    api.include_router(search.router)

    @api.api_route("/api/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"], include_in_schema=False)
    async def _unknown_api_route(request: Request, rest: str):
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
