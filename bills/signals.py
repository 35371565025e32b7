"""What the bills app announces to the apps above it (the dashboard listens), so it imports none of them."""

from django.db import transaction
from django.dispatch import Signal

# Sent once a change to bills (one made, imported, finalised, reopened or deleted) has committed.
bills_changed = Signal()


def announce_bills_changed() -> None:
    """Call inside the transaction that changes bills: the listeners hear of it when it commits, never on
    a rollback."""
    transaction.on_commit(lambda: bills_changed.send(sender=announce_bills_changed))
