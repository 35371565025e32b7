"""The command barcodes (bags.qr.Command) in words, for the command sheet (its page and its PDF)."""

from dataclasses import dataclass

from django.utils.translation import gettext as _

from bags.qr import Command


@dataclass(frozen=True)
class CommandWords:
    code: str
    name: str
    description: str


def command_words() -> list[CommandWords]:
    """Every command, in the order the sheet shows them; read at call time, in the request's language."""
    words = {
        Command.DONE: (_("Done"), _("Mark the parent you are filling complete.")),
        Command.UNDO: (_("Undo"), _("Take back the last child you put in, or the last move.")),
        Command.NEW_PARENT: (_("New parent"), _("Leave this parent: the next scan is a parent bag.")),
        Command.MOVE: (_("Move"), _("Move a child: scan the child, then its new parent.")),
        Command.CANCEL: (_("Cancel"), _("Stop a move or a command you started.")),
    }
    return [CommandWords(str(command), *words[command]) for command in Command]
