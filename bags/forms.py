"""Forms for bags and products. The code rules themselves live in bags.qr; these only apply them."""

from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext

from bags import qr
from bags.models import Bag, BagKind, Product


class BagAdminForm(forms.ModelForm):
    """A bag typed in by an admin: the code is cleaned up like a scan, and decides the bag's kind.

    A parent code belongs to one product, so a parent gets that product; a code is a parent or a
    child for life, so a correction of an existing bag's code must keep its kind.
    """

    class Meta:
        model = Bag
        fields = ("qr_id", "kind", "product", "dispatch_area", "completed_at")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._parsed: qr.ParsedCode | None = None
        if "product" in self.fields:
            self.fields["product"].required = False
            self.fields["product"].help_text = "A parent's product follows from its code; leave empty to fill it in."

    def clean_qr_id(self) -> str:
        try:
            self._parsed = qr.classify(self.cleaned_data["qr_id"], Product.objects.parent_formats())
        except qr.QRCodeError as exc:
            raise ValidationError(exc.message, code=exc.code) from exc
        return self._parsed.qr_id

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        parsed = self._parsed
        if parsed is None:  # the code was refused: nothing to check it against
            return cleaned
        if self.instance.pk is not None and parsed.kind != self.instance.kind:
            self.add_error(
                "qr_id",
                ValidationError(
                    f"'{parsed.qr_id}' is a {parsed.kind} bag code, but this bag is a {self.instance.kind}; "
                    "a bag keeps its kind for life.",
                    code="kind_changed",
                ),
            )
            return cleaned
        kind = cleaned.get("kind")
        if kind and kind != parsed.kind:
            self.add_error("kind", ValidationError(f"'{parsed.qr_id}' is a {parsed.kind} bag code.", code="wrong_kind"))
        if parsed.kind == BagKind.PARENT:
            self._clean_parent_product(parsed, cleaned)
        elif cleaned.get("completed_at"):
            self.add_error("completed_at", ValidationError("Only a parent bag can be complete.", code="child"))
        return cleaned

    def _clean_parent_product(self, parsed: qr.ParsedCode, cleaned: dict[str, Any]) -> None:
        expected = Product.objects.get(code=parsed.product_code)
        product = cleaned.get("product")
        if product is None:
            cleaned["product"] = expected
        elif product.pk != expected.pk:
            self.add_error(
                "product",
                ValidationError(
                    f"'{parsed.qr_id}' is a {expected.name} parent code, not {product.name}.", code="wrong_product"
                ),
            )
        if self.instance.pk is None and not expected.is_active:
            self.add_error(
                "qr_id",
                ValidationError(
                    f"'{parsed.qr_id}' is a {expected.name} parent code, and {expected.name} is not active: "
                    "no new parent bags.",
                    code="inactive_product",
                ),
            )


class ProductAdminForm(forms.ModelForm):
    """A product's parent code format, checked against the other products and the bags already stored.

    Every scan classifies codes by these formats, so a format that overlaps another, or that would
    turn existing bags into the other kind, is refused here rather than discovered on the loading bay.
    """

    class Meta:
        model = Product
        fields = ("code", "name", "parent_prefix", "parent_digits", "capacity", "child_weight_kg", "is_active")

    def clean_parent_prefix(self) -> str:
        prefix = self.cleaned_data["parent_prefix"].strip().upper()
        if qr.is_command(prefix):
            raise ValidationError(
                gettext("Codes starting %(prefix)s are command barcodes; choose another prefix.")
                % {"prefix": qr.COMMAND_PREFIX},
                code="command_prefix",
            )
        return prefix

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean()
        prefix, digits = cleaned.get("parent_prefix"), cleaned.get("parent_digits")
        if not prefix or not digits:
            return cleaned
        fmt = qr.ParentFormat(cleaned.get("code") or "", cleaned.get("name") or "", prefix, digits)
        others = Product.objects.exclude(pk=self.instance.pk)
        for other in others:
            if _formats_overlap(fmt, other.parent_format):
                self.add_error(
                    "parent_prefix",
                    ValidationError(
                        f"Codes like {fmt.example} would also match {other.name}'s parent format "
                        f"({other.parent_format.example}).",
                        code="overlap",
                    ),
                )
                return cleaned
        if self.instance.pk is not None:
            if prefix == self.instance.parent_prefix and digits == self.instance.parent_digits:
                return cleaned  # the format is unchanged: the bags already agree with it
            self._refuse_format_change_with_parents()
        # A new parent format must not swallow child codes already stored.
        children = Bag.objects.filter(
            kind=BagKind.CHILD, qr_id__startswith=prefix, qr_id__regex=f"^{fmt.pattern.pattern}$"
        )
        clash = children.values_list("qr_id", flat=True).first()
        if clash is not None:
            self.add_error(
                "parent_prefix",
                ValidationError(
                    f"The child bag '{clash}' already has a code in this format; it would become a parent code.",
                    code="swallows_children",
                ),
            )
        return cleaned

    def _refuse_format_change_with_parents(self) -> None:
        if Bag.objects.filter(product=self.instance).exists():
            self.add_error(
                "parent_prefix",
                ValidationError(
                    "This product already has parent bags: their codes would no longer be parent codes. "
                    "Add a new product instead.",
                    code="has_parents",
                ),
            )


def _formats_overlap(a: qr.ParentFormat, b: qr.ParentFormat) -> bool:
    """True when one code could match both formats: one prefix extends the other with digits only."""
    short, long = sorted((a, b), key=lambda fmt: len(fmt.prefix))
    if not long.prefix.startswith(short.prefix):
        return False
    extra = long.prefix[len(short.prefix) :]
    return (extra == "" or extra.isdigit()) and len(short.prefix) + short.digits == len(long.prefix) + long.digits
