"""A test user with their token, shared by the HTTP and Socket.IO suites."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass
class Person:
    user: dict[str, Any]
    token: str

    @property
    def id(self) -> str:
        return self.user["_id"]

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}
