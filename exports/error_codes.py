"""The exports app's refusal codes (exports.tables)."""

from traitortrack.errors import RefusalCode


class ExportRefusal(RefusalCode):
    """An export that cannot start now."""

    EXPORTS_BUSY = "exports_busy"
