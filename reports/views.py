"""The reports pages: the exceptions list (/reports/exceptions/, billers and admins)."""

from django import forms
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_GET

from reports.exceptions import RULES, SHOWN, open_exceptions, remember_count
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
