from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """Figures and problems over the floor's work: the exceptions list and the end-of-day summary (and, with
    issue 19, the reports). Reads every app below it; the overview above may show what it finds."""

    name = "reports"
    verbose_name = "Reports"
