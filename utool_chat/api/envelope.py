"""contract.md's envelopes: {"success": true, "data": …, "meta"?: …} and
{"success": false, "error": "<for humans>", "code": "<machine_code>"}."""

from __future__ import annotations

from typing import Any

from fastapi.responses import JSONResponse


def ok(data: Any = None, meta: dict[str, Any] | None = None, status: int = 200) -> JSONResponse:
    body: dict[str, Any] = {"success": True, "data": data}
    if meta is not None:
        body["meta"] = meta
    return JSONResponse(body, status_code=status)


def error(status: int, message: str, code: str, headers: dict[str, str] | None = None,
          extra: dict[str, Any] | None = None) -> JSONResponse:
    """`extra`: more fields of the error body (an outage's `retryAfter`)."""
    body: dict[str, Any] = {"success": False, "error": message, "code": code, **(extra or {})}
    return JSONResponse(body, status_code=status, headers=headers)
