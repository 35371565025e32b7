from django.apps import AppConfig


class OverviewConfig(AppConfig):
    """The top layer: pages over every app (home, dashboard, search, system page) and the API document."""

    name = "overview"
    verbose_name = "Overview"

    def ready(self) -> None:
        from bills.signals import bills_changed
        from overview.dashboard import stats_changed

        bills_changed.connect(stats_changed, dispatch_uid="overview.stats_changed")
