"""The keyboard shortcuts, in one table: the browser module acts on them and draws the `Keyboard shortcuts` dialog
(`?`) from them (it reads the table from the dialog's `data-vc-shortcuts`), so the two never disagree. None fires
while focus is in a text box, a select or anything editable (typing `m` in Search people is a letter, not mute)."""

import html
import json
from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Shortcut:
    keys: str  # as the dialog shows it
    what: str
    key: str | None  # KeyboardEvent.key the browser module acts on (None: handled where it belongs)
    action: str | None = None  # the browser module's name for what it does


SHORTCUTS = (
    Shortcut('?', 'Show keyboard shortcuts', '?', 'shortcuts'),
    Shortcut('M', 'Mute or unmute the microphone (in a call)', 'm', 'mute'),
    Shortcut('Escape', 'Decline a ringing call', 'Escape', 'decline'),
    Shortcut('Space', 'Push to talk (when Push to talk is on)', None),
    Shortcut('Tab, Shift+Tab', 'Move between controls; Enter or Space presses the one in focus', None),
)


def dialog_html() -> str:
    """A native dialog the browser module opens with `?` (its own focus trap, Escape closes it). Its rows are drawn
    from the table only while it is open: closed, its words (`Push to talk`, `in a call`) are nowhere in the page, so
    they never double a control's text for someone finding that control by its words."""
    table = json.dumps([asdict(shortcut) for shortcut in SHORTCUTS])
    return (
        f'<dialog id="vc-shortcuts" aria-labelledby="vc-shortcuts-title" data-vc-shortcuts="{html.escape(table)}"'
        ' class="q-pa-lg rounded-borders">'
        '<h2 id="vc-shortcuts-title" class="text-h6 q-my-none">Keyboard shortcuts</h2>'
        '<table class="vc-shortcuts q-mt-sm"><thead><tr><th scope="col">Key</th><th scope="col">Does</th></tr></thead>'
        '<tbody></tbody></table>'
        '<button id="vc-shortcuts-close" type="button" class="q-mt-md">Close</button>'
        '</dialog>'
    )
