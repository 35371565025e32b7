"""The one shape of a domain refusal: a stable ``code`` for programs, a plain ``message`` for people and
the HTTP status a view answers with. Each app's refusal (ScanRefused, BillRefused) adds what its answers
carry and how they look."""

from typing import Any


class Refused(Exception):
    def __init__(self, code: str, message: str, *, status: int = 409) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status

    def body(self) -> dict[str, Any]:
        return {"ok": False, "code": self.code, "message": self.message}
