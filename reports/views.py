"""The reports pages: the report of a range of days (/reports/, its CSV and workbook; billers and admins see
everyone's figures, a dispatcher their own), the exceptions list (/reports/exceptions/) and the end-of-day
summary's preview (/reports/summary/), billers and admins."""

from datetime import timedelta

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import dateformat, timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from reports import figures, summary
from reports.exceptions import RULES, SHOWN, open_exceptions, remember_count
from reports.models import SummaryMail
from reports.tables import csv_sheet, tables, xlsx_sheets
from traitortrack.forms import FIRST_DAY, LAST_DAY, DayField
from traitortrack.permissions import BILLER, LOGGED_IN, access
from traitortrack.replica import reads_replica
from traitortrack.spreadsheets import csv_response, xlsx_response

# The default range: the last DEFAULT_DAYS local days, today included; a range may span MAX_DAYS at most.
DEFAULT_DAYS = 7
MAX_DAYS = 366


class ReportForm(forms.Form):
    date_from = DayField(required=False, label=_("From"))
    date_to = DayField(required=False, label=_("To"))

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for name in ("date_from", "date_to"):
            self.fields[name].widget.attrs["class"] = "form-control"

    def clean(self):
        data = super().clean()
        today = timezone.localdate()
        last = data.get("date_to") or today
        first = data.get("date_from") or last - timedelta(days=DEFAULT_DAYS - 1)
        if "date_from" in self.errors or "date_to" in self.errors:
            return data
        if first > last:
            raise forms.ValidationError(_("The first day is after the last."), code="reversed")
        if (last - first).days + 1 > MAX_DAYS:
            raise forms.ValidationError(_("Pick at most %(days)s days."), code="too_long", params={"days": MAX_DAYS})
        data["first"], data["last"] = first, last
        return data


def _form(request: HttpRequest) -> ReportForm:
    # Without a range the fields show the default one, so the form says which days the report is.
    data = request.GET.copy()
    if not data.get("date_from") and not data.get("date_to"):
        today = timezone.localdate()
        data["date_from"] = (today - timedelta(days=DEFAULT_DAYS - 1)).isoformat()
        data["date_to"] = today.isoformat()
    return ReportForm(data)


def _report(request: HttpRequest, form: ReportForm) -> figures.Report:
    # A dispatcher's report is their own figures; billers and admins see everyone's.
    user = None if request.user.handles_bills else request.user
    return figures.build(form.cleaned_data["first"], form.cleaned_data["last"], user=user)


def _chart(points) -> list[dict]:
    return [{"label": label, "count": counts.scans} for label, counts in points]


@access(LOGGED_IN)
@require_GET
@reads_replica
def report_page(request: HttpRequest) -> HttpResponse:
    """The report of ``?date_from=&date_to=`` (default the last DEFAULT_DAYS days); a range the form refuses
    is a 400 with its message, never a 500."""
    form = _form(request)
    if not form.is_valid():
        return render(request, "reports/report.html", {"form": form}, status=400)
    report = _report(request, form)
    charts = {
        "days": _chart((dateformat.format(day, "j M"), counts) for day, counts in report.days),
        "hours": _chart((f"{hour:02}:00", counts) for hour, counts in report.hours),
    }
    context = {"form": form, "report": report, "tables": tables(report), "charts": charts}
    return render(request, "reports/report.html", context)


def _download(request: HttpRequest, kind: str) -> HttpResponse:
    form = _form(request)
    if not form.is_valid():
        return render(request, "reports/report.html", {"form": form}, status=400)
    report = _report(request, form)
    made = tables(report)
    filename = f"report-{report.first:%Y%m%d}-{report.last:%Y%m%d}.{kind}"
    if kind == "csv":
        return csv_response(csv_sheet(made), filename)
    return xlsx_response(xlsx_sheets(made), filename)


@access(LOGGED_IN)
@require_GET
@reads_replica
def report_csv(request: HttpRequest) -> HttpResponse:
    return _download(request, "csv")


@access(LOGGED_IN)
@require_GET
@reads_replica
def report_xlsx(request: HttpRequest) -> HttpResponse:
    return _download(request, "xlsx")


class ExceptionsForm(forms.Form):
    rule = forms.ChoiceField(
        label=_("Show"), required=False, choices=[("", _("Every problem"))] + [(spec.key, spec.title) for spec in RULES]
    )


@access(BILLER)
@require_GET
@reads_replica
def exceptions_page(request: HttpRequest) -> HttpResponse:
    """Every open problem by rule; ``?rule=`` shows one. A rule it does not know is a 400, never a 500."""
    form = ExceptionsForm(request.GET)
    valid = form.is_valid()
    rules = open_exceptions(only=form.cleaned_data.get("rule") if valid else None)
    remember_count(rules)
    context = {"form": form, "rules": rules, "shown": SHOWN, "total": sum(rule.total for rule in rules)}
    return render(request, "reports/exceptions.html", context, status=200 if valid else 400)


class SummaryForm(forms.Form):
    date = DayField(label=_("Day"), required=False, input_formats=["%Y-%m-%d"])


@access(BILLER)
@require_GET
@reads_replica
def summary_page(request: HttpRequest) -> HttpResponse:
    """The end-of-day summary of ``?date=`` (yesterday by default) as its mail shows it, in the viewer's
    language, and how many of its mails went. A date that is not one is a 400 showing yesterday's."""
    form = SummaryForm(request.GET)
    valid = form.is_valid()
    day = (form.cleaned_data.get("date") if valid else None) or timezone.localdate() - timedelta(days=1)
    mails = SummaryMail.objects.filter(summary__day=day)
    context = {
        "form": form,
        "day": day,
        "first_day": FIRST_DAY,
        "last_day": LAST_DAY,
        "over": summary.day_is_over(day),
        "summary": summary.build(day),
        "mails": mails.count(),
        "sent": mails.filter(sent_at__isnull=False).count(),
    }
    return render(request, "reports/summary.html", context, status=200 if valid else 400)
