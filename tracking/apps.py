from django.apps import AppConfig


class TrackingConfig(AppConfig):
    """Where every bag has been: the bag page with its story and its state at any time, the bag management
    list, and deleting a wrong bag (above scanning, bills and returns, whose events it reads)."""

    name = "tracking"
    verbose_name = "Bag tracking"
