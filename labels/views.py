"""The label page (/labels/: preview, PDF, ZPL, send to a printer) and the command sheet (/labels/commands/
and its PDF). Plain forms, no script: the page's one form posts back here with the button pressed."""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET, require_http_methods

from labels import services
from labels.codes import MAX_LABELS, CodeRun, LabelRefused
from labels.commands import command_words
from labels.forms import PDF, PREVIEW, PRINT, ZPL, LabelForm
from labels.layouts import LAYOUTS, LayoutKey
from labels.pdf import command_sheet_pdf
from labels.qr_symbols import svg_data_uri
from traitortrack.permissions import BILLER, access

PREVIEW_LABELS = 6  # the first labels shown on the page, as they print


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


def _preview(run: CodeRun, layout_key: LayoutKey) -> dict:
    layout = LAYOUTS[layout_key]
    return {
        "count": len(run.codes),
        "first": run.first,
        "last": run.last,
        "pages": layout.pages(len(run.codes)),
        "is_roll": layout.is_roll,
        "layout_key": layout_key.value,
        "layout_name": layout_key.label,
        "labels": [(code, svg_data_uri(code)) for code in run.codes[:PREVIEW_LABELS]],
    }


@access(BILLER)
@require_http_methods(["GET", "POST"])
def labels_page(request: HttpRequest) -> HttpResponse:
    form = LabelForm(request.POST or None)
    context = {"form": form, "max_labels": MAX_LABELS, "preview_labels": PREVIEW_LABELS}
    status = 200
    if request.method == "POST":
        if not form.is_valid():
            return render(request, "labels/labels.html", context, status=400)
        data = form.cleaned_data
        order, layout_key, action = form.order(), LayoutKey(data["layout"]), data["action"]
        try:
            if action == PREVIEW:
                context["preview"] = _preview(services.codes_for(order), layout_key)
            elif action in (PDF, ZPL):
                dpi = data.get("dpi") if action == ZPL else None
                made = services.make_file(user=request.user, order=order, layout_key=layout_key, zpl_dpi=dpi)
                return _download(made.content, made.content_type, made.filename)
            elif action == PRINT:
                printer = data["printer"]
                run = services.print_labels(user=request.user, order=order, printer=printer, request=request)
                messages.success(
                    request,
                    ngettext(
                        "Sent %(count)s label (%(first)s) to the printer %(printer)s.",
                        "Sent %(count)s labels (%(first)s to %(last)s) to the printer %(printer)s.",
                        len(run.codes),
                    )
                    % {"count": len(run.codes), "first": run.first, "last": run.last, "printer": printer.name},
                )
                context["preview"] = _preview(run, LayoutKey(printer.roll))
        except LabelRefused as refusal:
            context["refusal"] = refusal.message
            status = refusal.status
    return render(request, "labels/labels.html", context, status=status)


@access(BILLER)
@require_GET
def command_sheet(request: HttpRequest) -> HttpResponse:
    commands = [(command, svg_data_uri(command.code, scale=6)) for command in command_words()]
    return render(request, "labels/commands.html", {"commands": commands})


@access(BILLER)
@require_GET
def command_sheet_download(request: HttpRequest) -> HttpResponse:
    return _download(command_sheet_pdf(command_words()), "application/pdf", "command-barcodes.pdf")
