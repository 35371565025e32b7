"""Who and when for the bill events the database writes (bills.BillEvent, from triggers on bills_billbag).

The triggers read two settings of the current transaction (``set_config(..., true)``: gone at its end, so a
pooled connection carries nothing over, PgBouncer's transaction pooling included). Every bill service and the
return ticket's commit call ``acting`` inside their transaction; a writer that does not (an import, the admin)
leaves events with the entry's ``added_by`` or no user, at the database's time.
"""

from datetime import datetime

from django.db import connection
from django.utils import timezone

from accounts.models import User


def acting(user: User | None, at: datetime | None = None) -> datetime:
    """Name the user and the time of this transaction's bill events; returns the time."""
    at = at or timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT set_config('traitortrack.actor_id', %s, true), set_config('traitortrack.event_time', %s, true)",
            [str(user.pk) if user is not None and user.pk else "", at.isoformat()],
        )
    return at
