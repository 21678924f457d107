"""The URLs of files in our storage, and the signed variants browsers use.

Two kinds of URL point at an upload:

- stable:  /api/v1/chat/files/<id>            (thumbnail: /api/v1/chat/files/<id>/thumbnail)
  What every served object carries (message attachments, upload objects, group avatars),
  identical for every receiver, so one chat:new_message payload can go to all members. It
  needs the receiver's `Authorization: Bearer <token>` header: fine for API clients, useless
  in an <img> tag.
- signed:  /api/v1/chat/files/<id>?u=<viewer>&e=<expiry>&s=<hmac>
  For browsers. Minted for one viewer by `sign_url(viewer_id, stable_url)` (the one function
  every door uses: the Reflex views for what they render, POST /api/v1/chat/files/signed-urls
  for API clients that show files in a browser). The HMAC covers the file, the variant, the
  viewer and the expiry, so a URL cannot be re-pointed at another file or user, and it
  expires after FILE_URL_TTL_SECONDS (rounded up to a quarter of it, so that a page rendered
  twice in a row gets the same URL and the browser's cache works). A signed URL is a
  capability only together with the viewer's access: the download checks, every time, that
  the viewer in it may still see the file (a member of its conversation, the message not
  deleted). The login token never appears in a URL.

URLs are paths on the API's origin (the backend, API_URL): the web app prefixes them.
"""

from __future__ import annotations

import hashlib
import hmac
import math
import re
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

from utool_chat import config

FILES_PREFIX = "/api/v1/chat/files/"
VARIANTS = ("original", "thumbnail")
_STABLE = re.compile(r"^/api/v1/chat/files/([0-9a-f]{32})(/thumbnail)?$")


def file_url(upload_id: str) -> str:
    return f"{FILES_PREFIX}{upload_id}"


def thumbnail_url(upload_id: str) -> str:
    return f"{FILES_PREFIX}{upload_id}/thumbnail"


def parse(url: Any) -> tuple[str, str] | None:
    """(upload id, variant) of a stable URL of ours (a signed one's query is ignored); None
    for anything else (an external link, a malformed path)."""
    if not isinstance(url, str):
        return None
    match = _STABLE.match(urlsplit(url).path) if url.startswith(FILES_PREFIX) else None
    if match is None:
        return None
    return match.group(1), "thumbnail" if match.group(2) else "original"


def _key() -> bytes:
    # Derived, so a file-URL signature can never be mistaken for any other use of SECRET_KEY.
    return hmac.new(config.settings.secret_key.encode(), b"utool-chat file urls v1", hashlib.sha256).digest()


def _signature(upload_id: str, variant: str, viewer_id: str, expires: int) -> str:
    message = f"{upload_id}\n{variant}\n{viewer_id}\n{expires}".encode()
    return hmac.new(_key(), message, hashlib.sha256).hexdigest()[:40]


def expiry(now: float | None = None) -> int:
    """When a URL minted now expires: at least FILE_URL_TTL_SECONDS from now, rounded up to a
    quarter of the TTL so that URLs minted within that quarter are identical."""
    ttl = max(1, config.settings.file_url_ttl_seconds)
    step = max(1, ttl // 4)
    now = time.time() if now is None else now
    return int(math.ceil((now + ttl) / step) * step)


def sign_url(viewer_id: str, url: Any, now: float | None = None) -> Any:
    """The signed URL of one of our stable file URLs for `viewer_id`; anything else (an
    external link, None) is returned unchanged. Pure: no database, no I/O."""
    parsed = parse(url)
    if parsed is None:
        return url
    upload_id, variant = parsed
    expires = expiry(now)
    query = urlencode({"u": viewer_id, "e": expires, "s": _signature(upload_id, variant, viewer_id, expires)})
    base = file_url(upload_id) if variant == "original" else thumbnail_url(upload_id)
    return f"{base}?{query}"


def verify(upload_id: str, variant: str, query: dict[str, Any], now: float | None = None) -> str | None:
    """The viewer id a signed URL's query (`u`, `e`, `s`) vouches for, or None when it is
    missing, forged, for another file or variant, or expired."""
    viewer, expires, signature = (query.get(k) for k in ("u", "e", "s"))
    if not (isinstance(viewer, str) and isinstance(expires, str) and isinstance(signature, str)):
        return None
    if not expires.isdigit() or len(expires) > 12 or not re.fullmatch(r"[0-9a-f]{32}", viewer):
        return None
    if int(expires) < (time.time() if now is None else now):
        return None
    expected = _signature(upload_id, variant, viewer, int(expires))
    return viewer if hmac.compare_digest(expected, signature) else None


def query_of(url: str) -> dict[str, str]:
    """The single-valued query parameters of a URL (tests and clients)."""
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


def sign_attachment(viewer_id: str, attachment: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A copy of an attachment or upload object whose `url` and `thumbnailUrl` are signed for
    the viewer (link attachments come back unchanged)."""
    out = dict(attachment)
    for field in ("url", "thumbnailUrl"):
        if out.get(field):
            out[field] = sign_url(viewer_id, out[field], now)
    return out


def sign_message(viewer_id: str, message: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A copy of a message object with every attachment signed for the viewer."""
    if not message.get("attachments"):
        return message
    return {**message, "attachments": [sign_attachment(viewer_id, a, now) for a in message["attachments"]]}


def sign_conversation(viewer_id: str, conversation: dict[str, Any], now: float | None = None) -> dict[str, Any]:
    """A copy of a conversation object whose avatar (and lastMessage's files) are signed."""
    out = dict(conversation)
    if out.get("avatar"):
        out["avatar"] = sign_url(viewer_id, out["avatar"], now)
    if out.get("lastMessage"):
        out["lastMessage"] = sign_message(viewer_id, out["lastMessage"], now)
    return out
