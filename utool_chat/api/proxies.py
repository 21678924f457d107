"""Forwarded headers, trusted only from the proxy (TRUSTED_PROXIES).

Behind nginx (deploy/) every request reaches the app from the proxy's address, with the real
client in X-Forwarded-For and the scheme the client used (https) in X-Forwarded-Proto. The app
believes those headers only when the peer that sent them is one of TRUSTED_PROXIES (addresses or
networks, comma-separated: "127.0.0.1", "10.0.0.0/8,::1"): the request's client address and
scheme are then the forwarded ones. From any other peer the headers are removed before the app
sees them, so a client talking to the app directly cannot claim another address or scheme.
Unset: no peer is trusted. Wraps the whole backend (pages, API, Socket.IO).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

from utool_chat import config

FORWARDED = (b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host", b"x-forwarded-port", b"forwarded")
Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_trusted(raw: str | None) -> list[Network]:
    return [ipaddress.ip_network(part.strip(), strict=False) for part in (raw or "").split(",") if part.strip()]


class ForwardedHeaders:
    def __init__(self, app: ASGIApp, trusted: Iterable[Network] | None = None) -> None:
        self.app = app
        self.trusted = list(trusted) if trusted is not None else parse_trusted(config.settings.trusted_proxies)

    def _is_trusted(self, address: str | None) -> bool:
        if not address:
            return False
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        return any(ip in network for network in self.trusted)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        headers = scope.get("headers", [])
        if not self._is_trusted(client[0] if client else None):
            scope = {**scope, "headers": [(k, v) for k, v in headers if k.lower() not in FORWARDED]}
            await self.app(scope, receive, send)
            return
        values = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in headers}
        scope = dict(scope)
        proto = values.get("x-forwarded-proto", "").split(",")[-1].strip().lower()
        if proto in ("http", "https"):
            secure = proto == "https"
            scope["scheme"] = ("wss" if secure else "ws") if scope["type"] == "websocket" else proto
        # The nearest address that is not itself a trusted proxy is the client.
        hops = [hop.strip() for hop in values.get("x-forwarded-for", "").split(",") if hop.strip()]
        for hop in reversed(hops):
            if not self._is_trusted(hop):
                scope["client"] = (hop, 0)
                break
        await self.app(scope, receive, send)


def forwarded_headers(app: ASGIApp) -> ASGIApp:
    """rx.App(api_transformer=[..., forwarded_headers]): the whole backend behind it."""
    return ForwardedHeaders(app)
