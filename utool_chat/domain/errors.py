"""Domain errors. Every door (HTTP, Socket.IO, Reflex) turns these into its own error form;
HTTP uses `status` and `code` for contract.md's envelope."""

from __future__ import annotations


class DomainError(Exception):
    status = 400
    code = "bad_request"

    def __init__(self, message: str, code: str | None = None, status: int | None = None):
        super().__init__(message)
        self.message = message
        if code:
            self.code = code
        if status:
            self.status = status


class ValidationFailed(DomainError):
    status, code = 400, "validation_error"


class Unauthenticated(DomainError):
    status, code = 401, "unauthorized"


class Forbidden(DomainError):
    status, code = 403, "forbidden"


class NotFound(DomainError):
    """Missing, or not visible to the caller: the two are indistinguishable on purpose."""

    status, code = 404, "not_found"


class Conflict(DomainError):
    status, code = 409, "conflict"


class RateLimited(DomainError):
    status, code = 429, "rate_limited"

    def __init__(self, message: str, retry_after: int = 1):
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(DomainError):
    status, code = 413, "payload_too_large"


class Unprocessable(DomainError):
    """Well-formed input the server will not keep (an infected file)."""

    status, code = 422, "unprocessable"


class Unavailable(DomainError):
    """A dependency (storage, virus scanner, …) cannot answer now: retry later."""

    status, code = 503, "unavailable"

    def __init__(self, message: str, code: str | None = None, retry_after: int = 5):
        super().__init__(message, code=code)
        self.retry_after = retry_after
