"""Bill forms: the bill's details (pages, JSON API and admin alike) and the bill list's search."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.utils.functional import lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from bags.models import Product
from bills.managers import BillQuerySet
from bills.models import Bill, BillStatus
from bills.services import MAX_PARENTS, BillRefused, check_bill_number_free, default_product
from traitortrack.forms import ListSearchForm
from traitortrack.sorting import sort_choices


def _lazy_text(make) -> str:
    """A text made when shown, in the language of the request then: ``gettext_lazy(...) % values`` in a class
    body would be made once, at import, in English."""
    return lazy(make, str)()


class BillForm(forms.ModelForm):
    """A bill's details. The bill number must be free in any case; the product list is the active products
    (and the bill's own, if it was taken out of use since)."""

    expected_parents = forms.IntegerField(
        validators=[MinValueValidator(1), MaxValueValidator(MAX_PARENTS)],
        label=_("Expected parents"),
        help_text=_lazy_text(
            lambda: gettext("Expected number of parent bags (1 to %(most)s).") % {"most": MAX_PARENTS}
        ),
    )

    class Meta:
        model = Bill
        fields = ("bill_number", "customer", "bill_date", "product", "expected_parents", "notes")
        widgets = {
            "bill_date": forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d"),
            "notes": forms.Textarea(attrs={"rows": 3}),
        }
        labels = {
            "bill_number": _("Bill number"),
            "customer": _("Customer"),
            "bill_date": _("Bill date"),
            "product": _("Product (for the expected weight)"),
            "notes": _("Notes"),
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if "product" in self.fields:
            active = Product.objects.filter(is_active=True)
            if self.instance.product_id:
                active = Product.objects.filter(is_active=True) | Product.objects.filter(pk=self.instance.product_id)
            self.fields["product"].queryset = active.order_by("name")
            self.fields["product"].empty_label = None
            if not self.instance.pk and not self.is_bound and not self.initial.get("product"):
                first = default_product()
                self.initial["product"] = first.pk if first else None

    def clean_bill_number(self) -> str:
        number = self.cleaned_data["bill_number"].strip()
        if not number:
            raise ValidationError(_("Type the bill number."), code="required")
        try:
            check_bill_number_free(number, exclude_pk=self.instance.pk)
        except BillRefused as refusal:
            # The database's unique index ignores case; say so rather than name the constraint.
            raise ValidationError(refusal.message, code="taken") from refusal
        return number

    def clean_customer(self) -> str:
        customer = self.cleaned_data["customer"].strip()
        if not customer:
            raise ValidationError(_("Type the customer or destination."), code="required")
        return customer

    def service_arguments(self) -> dict[str, Any]:
        return {name: self.cleaned_data[name] for name in self.Meta.fields}


class BillSearchForm(ListSearchForm):
    """The bill list's filters."""

    DEFAULT_SORT = "-bill_date"

    q = forms.CharField(required=False, max_length=200, label=_("Bill number or customer"))
    status = forms.ChoiceField(required=False, choices=[("", _("Any status")), *BillStatus.choices])
    sort = forms.ChoiceField(required=False, choices=sort_choices(BillQuerySet.SORTS))
