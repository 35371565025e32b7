"""The one shape of a refusal: a stable ``code`` for programs, a plain ``message`` for people, the HTTP
status a view answers with, and any extra fields an app's answers carry (a scan refusal's ``parent``).

Codes are members of an enum per app (``ScanRefusal``, ``BillRefusal`` ...), each a subclass of
RefusalCode: the API document lists the codes from the enums themselves (overview.openapi), and a
typo is a TypeError, not a new code. traitortrack.edge turns a Refused, and every other error under
/api/, into the one JSON body that ``Refused.body`` builds.
"""

import enum
from typing import Any

from django.utils.functional import Promise as StrPromise


class RefusalCode(enum.StrEnum):
    """The base of every app's refusal codes (it has no members of its own)."""


class EdgeRefusal(RefusalCode):
    """What the HTTP edge itself refuses, before or around any app's rules."""

    NOT_LOGGED_IN = "not_logged_in"
    FORBIDDEN = "forbidden"
    OTP_REQUIRED = "otp_required"
    CSRF_FAILED = "csrf_failed"
    RATE_LIMITED = "rate_limited"
    LOCKED_OUT = "locked_out"
    NOT_FOUND = "not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    BAD_REQUEST = "bad_request"
    UNSUPPORTED_MEDIA_TYPE = "unsupported_media_type"
    TOO_LARGE = "too_large"
    INVALID = "invalid"
    BUSY = "busy"
    SERVER_ERROR = "server_error"


class Refused(Exception):
    def __init__(
        self,
        code: RefusalCode,
        message: "str | StrPromise",
        *,
        status: int = 409,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        if not isinstance(code, RefusalCode):
            raise TypeError(f"A refusal's code comes from a RefusalCode enum, not {code!r}.")
        message = str(message)  # a lazy translation, in the language of the request that is refused
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status
        self.headers = headers or {}
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The one error body: ``ok``, ``code`` and ``message`` always, then the refusal's own fields."""
        return {"ok": False, "code": str(self.code), "message": self.message, **self.extra}
