"""The reports pages: the exceptions list (/reports/exceptions/) and the end-of-day summary's preview
(/reports/summary/), billers and admins."""

from datetime import timedelta

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from reports import summary
from reports.exceptions import RULES, SHOWN, open_exceptions, remember_count
from reports.models import SummaryMail
from traitortrack.forms import FIRST_DAY, LAST_DAY, DayField
from traitortrack.permissions import BILLER, access


class ExceptionsForm(forms.Form):
    rule = forms.ChoiceField(
        label=_("Show"), required=False, choices=[("", _("Every problem"))] + [(spec.key, spec.title) for spec in RULES]
    )


@access(BILLER)
@require_GET
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
