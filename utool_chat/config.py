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
TYPING_TTL_SECONDS           A typing state not refreshed ends after this (default 5; read in domain/typing.py).
REDIS_EVENTS_CHANNEL         Redis pub/sub channel of the event bus (default utool_chat:events:<db index>;
                             read in events/bus.py).
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
    max_message_chars: int = 4000
    max_body_bytes: int = 1_000_000

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


settings = Settings()


def reload_settings() -> Settings:
    """Re-read the environment (tests point DATABASE_URL at their own database)."""
    global settings
    settings = Settings()
    return settings
