"""The label page's form: which codes (a range, a list or the next N of a product), the layout, the printer."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from bags.models import Product
from labels.codes import MAX_LABELS
from labels.layouts import LayoutKey
from labels.models import Dpi, Printer
from labels.services import LIST, NEXT, RANGE, LabelOrder

PREVIEW, PDF, ZPL, PRINT = "preview", "pdf", "zpl", "print"


class LabelForm(forms.Form):
    source = forms.ChoiceField(
        label=_("Which codes"),
        choices=[
            (RANGE, _("A range of codes")),
            (LIST, _("A list of codes")),
            (NEXT, _("The next unused codes of a product")),
        ],
        initial=RANGE,
        widget=forms.RadioSelect,
    )
    first = forms.CharField(label=_("From"), required=False, max_length=40)
    last = forms.CharField(label=_("To"), required=False, max_length=40)
    codes = forms.CharField(
        label=_("Codes"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=_("One a line, or separated by spaces or commas."),
    )
    product = forms.ModelChoiceField(label=_("Product"), queryset=Product.objects.none(), required=False)
    count = forms.IntegerField(label=_("How many"), required=False, min_value=1, max_value=MAX_LABELS)
    layout = forms.ChoiceField(label=_("Labels"), choices=LayoutKey.choices, initial=LayoutKey.A4_3X8)
    dpi = forms.TypedChoiceField(
        label=_("ZPL resolution"), choices=Dpi.choices, coerce=int, initial=Dpi.DPI_203, required=False
    )
    printer = forms.ModelChoiceField(label=_("Printer"), queryset=Printer.objects.none(), required=False)
    action = forms.ChoiceField(choices=[(PREVIEW, PREVIEW), (PDF, PDF), (ZPL, ZPL), (PRINT, PRINT)], initial=PREVIEW)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["product"].queryset = Product.objects.filter(is_active=True).order_by("name")
        self.fields["printer"].queryset = Printer.objects.filter(is_active=True)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        source = data.get("source")
        required = {RANGE: ("first", "last"), LIST: ("codes",), NEXT: ("product", "count")}.get(source, ())
        messages = {
            "first": _("Type the first code of the range."),
            "last": _("Type the last code of the range."),
            "codes": _("Paste or type at least one code."),
            "product": _("Choose the product whose codes to print."),
            "count": _("Say how many labels to print."),
        }
        for name in required:
            if name not in self.errors and not data.get(name):
                self.add_error(name, ValidationError(messages[name], code="required"))
        if data.get("action") == PRINT and not data.get("printer") and "printer" not in self.errors:
            self.add_error("printer", ValidationError(_("Choose the printer to send the labels to."), code="required"))
        return data

    def order(self) -> LabelOrder:
        data = self.cleaned_data
        return LabelOrder(
            source=data["source"],
            first=data.get("first") or "",
            last=data.get("last") or "",
            text=data.get("codes") or "",
            product=data.get("product"),
            count=data.get("count") or 0,
        )
