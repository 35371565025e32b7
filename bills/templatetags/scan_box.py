"""What the biller's scan box (templates/bills/scan_box.html) tells its script about codes."""

from django import template

from bags import qr

register = template.Library()


@register.simple_tag
def command_prefix() -> str:
    """The command barcodes' prefix: the script tells such a read is for the Scan page, not sent."""
    return qr.COMMAND_PREFIX
