"""X-Forwarded-For / -Proto are believed only from TRUSTED_PROXIES (api/proxies.py)."""

from __future__ import annotations

import httpx

from utool_chat.api.proxies import ForwardedHeaders, parse_trusted


async def echo(scope, receive, send) -> None:
    headers = {k.decode(): v.decode() for k, v in scope["headers"]}
    body = f"{scope['client'][0]} {scope['scheme']} {headers.get('x-forwarded-for', '-')}".encode()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": body})


async def seen(peer: str, trusted: str | None, headers: dict[str, str]) -> str:
    app = ForwardedHeaders(echo, parse_trusted(trusted))
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app, client=(peer, 5000)),
                                 base_url="http://app") as client:
        return (await client.get("/", headers=headers)).text


FORWARDED = {"X-Forwarded-For": "203.0.113.7, 127.0.0.1", "X-Forwarded-Proto": "https"}


async def test_the_proxy_s_forwarded_headers_give_the_client_address_and_scheme() -> None:
    assert await seen("127.0.0.1", "127.0.0.1", FORWARDED) == "203.0.113.7 https 203.0.113.7, 127.0.0.1"
    assert await seen("10.1.2.3", "10.0.0.0/8, ::1", {"X-Forwarded-For": "198.51.100.2"}) == \
        "198.51.100.2 http 198.51.100.2"


async def test_anyone_else_s_forwarded_headers_are_dropped() -> None:
    assert await seen("198.51.100.9", "127.0.0.1", FORWARDED) == "198.51.100.9 http -"
    assert await seen("127.0.0.1", None, FORWARDED) == "127.0.0.1 http -"  # unset: nobody is trusted
