"""Runtime settings, read from the environment once at import.

DATABASE_URL   SQLAlchemy URL. Unset: a SQLite file (utool_chat.db in the working directory),
               so the app runs with no server at all. `postgresql://…` URLs use psycopg 3.
REDIS_URL      Optional. When set, domain events travel over Redis pub/sub (several backend
               processes act as one) and rate-limit counters live in Redis.
SECRET_KEY     Optional pepper mixed into stored token hashes.
EDIT_WINDOW_SECONDS          How long a sender may edit a message (default 900 = 15 minutes).
RATE_LIMIT_SEND              Per-user message send limit, `limits` syntax (default "30/10second").
RATE_LIMIT_TYPING            Per-user typing-event limit (default "20/10second").
RATE_LIMIT_LOGIN             Failed logins per username before login is refused for a while
                             (default "10/5minute").
SESSION_TTL_DAYS             Login sessions expire after this many days (default 30).
TYPING_TTL_SECONDS           A typing state not refreshed ends after this (default 5), in the server's
                             registry (domain/typing.py), which announces the end to every client.
PRESENCE_HEARTBEAT_SECONDS   How often each backend process refreshes its presence in Redis (default 15); a
                             process silent for three of these is taken as gone and its users as offline.
PRESENCE_IDLE_SECONDS        After this long without input (default 300) a client reports its user "away".
REDIS_PRESENCE_PREFIX        Key prefix of presence in Redis (default utool_chat:presence:<db index>; read in
                             domain/presence.py).
REDIS_EVENTS_CHANNEL         Redis pub/sub channel of the event bus (default utool_chat:events:<db index>;
                             read in events/bus.py).

TRUSTED_PROXIES              Peers (addresses or networks, comma-separated) whose X-Forwarded-For / -Proto
                             are believed (api/proxies.py); unset: none. Behind deploy/nginx: 127.0.0.1.

Uploads (README "Files and uploads"):
MEDIA_ROOT                   Directory of the local file store (default ./media), used unless S3_BUCKET is set.
S3_ENDPOINT_URL, S3_BUCKET, S3_ACCESS_KEY_ID, S3_SECRET_ACCESS_KEY, S3_REGION
                             S3-compatible object storage instead of MEDIA_ROOT (S3_BUCKET selects it).
MAX_UPLOAD_BYTES             Largest file accepted (default 25 MiB); larger ones are refused with 413.
UPLOAD_EXPIRY_SECONDS        An upload never attached to a message is deleted after this (default 86400).
UPLOAD_SWEEP_INTERVAL_SECONDS  How often a backend process deletes expired uploads (default 300).
CLAMD_ADDRESS                clamd to scan every upload with: a unix socket path or host:port. Unset: no scan.
RATE_LIMIT_UPLOAD            Per-user files uploaded, `limits` syntax (default "30/minute").
UPLOAD_QUOTA_BYTES_PER_DAY   Per-user bytes uploaded per day (default 1 GiB).
FILE_URL_TTL_SECONDS         Lifetime of the signed file URLs given to browsers (default 3600).
UPLOAD_TMP_DIR               Where uploads are staged while they are checked (default: MEDIA_ROOT/.staging
                             for the local store, the system temporary directory with S3).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _normalise_db_url(url: str) -> str:
    # Plain postgres URLs would pick psycopg2, which we do not ship; psycopg 3 is the driver.
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


@dataclass(frozen=True)
class Settings:
    database_url: str = field(
        default_factory=lambda: _normalise_db_url(
            os.environ.get("DATABASE_URL") or "sqlite:///utool_chat.db"
        )
    )
    redis_url: str | None = field(default_factory=lambda: os.environ.get("REDIS_URL") or None)
    secret_key: str = field(default_factory=lambda: os.environ.get("SECRET_KEY", "utool-dev-secret"))
    edit_window_seconds: int = field(
        default_factory=lambda: int(os.environ.get("EDIT_WINDOW_SECONDS", "900"))
    )
    rate_limit_send: str = field(default_factory=lambda: os.environ.get("RATE_LIMIT_SEND", "30/10second"))
    rate_limit_typing: str = field(
        default_factory=lambda: os.environ.get("RATE_LIMIT_TYPING", "20/10second")
    )
    rate_limit_login: str = field(default_factory=lambda: os.environ.get("RATE_LIMIT_LOGIN", "10/5minute"))
    session_ttl_days: int = field(default_factory=lambda: int(os.environ.get("SESSION_TTL_DAYS", "30")))
    typing_ttl_seconds: float = field(
        default_factory=lambda: float(os.environ.get("TYPING_TTL_SECONDS", "5"))
    )
    presence_heartbeat_seconds: float = field(
        default_factory=lambda: float(os.environ.get("PRESENCE_HEARTBEAT_SECONDS", "15"))
    )
    presence_idle_seconds: int = field(default_factory=lambda: int(os.environ.get("PRESENCE_IDLE_SECONDS", "300")))
    max_message_chars: int = 4000
    max_body_bytes: int = 1_000_000
    # --- uploads ---
    media_root: str = field(default_factory=lambda: os.environ.get("MEDIA_ROOT") or "media")
    s3_endpoint_url: str | None = field(default_factory=lambda: os.environ.get("S3_ENDPOINT_URL") or None)
    s3_bucket: str | None = field(default_factory=lambda: os.environ.get("S3_BUCKET") or None)
    s3_access_key_id: str | None = field(
        default_factory=lambda: os.environ.get("S3_ACCESS_KEY_ID") or os.environ.get("AWS_ACCESS_KEY_ID") or None
    )
    s3_secret_access_key: str | None = field(
        default_factory=lambda: os.environ.get("S3_SECRET_ACCESS_KEY") or os.environ.get("AWS_SECRET_ACCESS_KEY")
        or None
    )
    s3_region: str = field(default_factory=lambda: os.environ.get("S3_REGION") or "us-east-1")
    max_upload_bytes: int = field(default_factory=lambda: int(os.environ.get("MAX_UPLOAD_BYTES", str(25 * 2**20))))
    upload_expiry_seconds: int = field(default_factory=lambda: int(os.environ.get("UPLOAD_EXPIRY_SECONDS", "86400")))
    upload_sweep_interval_seconds: float = field(
        default_factory=lambda: float(os.environ.get("UPLOAD_SWEEP_INTERVAL_SECONDS", "300"))
    )
    clamd_address: str | None = field(default_factory=lambda: os.environ.get("CLAMD_ADDRESS") or None)
    rate_limit_upload: str = field(default_factory=lambda: os.environ.get("RATE_LIMIT_UPLOAD", "30/minute"))
    upload_quota_bytes_per_day: int = field(
        default_factory=lambda: int(os.environ.get("UPLOAD_QUOTA_BYTES_PER_DAY", str(2**30)))
    )
    file_url_ttl_seconds: int = field(default_factory=lambda: int(os.environ.get("FILE_URL_TTL_SECONDS", "3600")))
    upload_tmp_dir: str | None = field(default_factory=lambda: os.environ.get("UPLOAD_TMP_DIR") or None)
    # --- deployment ---
    trusted_proxies: str | None = field(default_factory=lambda: os.environ.get("TRUSTED_PROXIES") or None)


settings = Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests point DATABASE_URL at their own database)."""
    global settings
    settings = Settings()
    return settings
