"""Recent calls: the user's finished calls as data, newest first (recent_calls.js renders the rows), with `Call back`
each, and on a call to the user that its caller left a message after, a player `Message from <name>` (the sound is
`GET /messages/<id>`, web/messages.py) with its length and `Delete message`. It starts with the last PAGE calls
from the history, hears each call that ends while it is shown, and loads older ones on demand; when a message comes
or goes (in any tab) it reads the rows it shows again."""

from collections.abc import Awaitable, Callable
from typing import Any

from nicegui.events import GenericEventArguments

from voiceconnect.calls.views import CallView
from voiceconnect.connections.device import Device
from web.nicegui_fixes.page_elements import ShownText

from . import format
from .actions import attempt, first_arg

PAGE = 50
EMPTY = 'No calls yet.'


def row_of(view: CallView) -> dict[str, Any]:
    return {
        'id': view.id,
        'peer': view.peer,
        'direction': 'Incoming' if view.role == 'callee' else 'Outgoing',
        'at': view.created if view.created is not None else view.ended_at,
        'outcome': format.row_outcome(view),
        'missed': view.missed,
        'message': view.message,
        'message_length': format.duration(view.message_s) if view.message_s is not None else None,
    }


class RecentCalls(ShownText, component='recent_calls.js'):
    def __init__(self, device: Device, views: list[CallView], on_call: Callable[[str], Awaitable[None]]) -> None:
        """`views`: the newest finished calls (at most PAGE, newest first), as the page found them."""
        super().__init__()
        self.device = device
        self.rows = [row_of(view) for view in views]  # what the browser shows, for the simulated user
        self._props['initial'] = list(self.rows)
        self._props['more'] = len(views) >= PAGE
        self._props['empty'] = EMPTY
        self.on('call', lambda event: self._call(event, on_call))
        self.on('more', self._more)
        self.on('delete_message', self._delete_message)

    def add(self, view: CallView) -> None:
        """A call that just ended."""
        if any(row['id'] == view.id for row in self.rows):
            return
        row = row_of(view)
        self.rows.insert(0, row)
        self.run_method('add', row)

    def replace(self, views: list[CallView]) -> None:
        """The newest calls as they are now (a message came or went)."""
        self.rows = [row_of(view) for view in views]
        self.run_method('replace', self.rows)

    async def _delete_message(self, event: GenericEventArguments) -> None:
        if isinstance(message := first_arg(event), str):
            await attempt(self.device.delete_message(message))  # every tab hears MessagesChanged, this one too

    async def _more(self, event: GenericEventArguments) -> None:
        before = first_arg(event)
        if not isinstance(before, int | float):
            return
        older = [row_of(view) for view in await self.device.recent_calls(PAGE, float(before))]
        self.rows.extend(older)
        if len(older) < PAGE:
            self._props['more'] = False
            self.update()
        self.run_method('append', older)

    @staticmethod
    async def _call(event: GenericEventArguments, on_call: Callable[[str], Awaitable[None]]) -> None:
        if isinstance(name := first_arg(event), str):
            await on_call(name)

    def shown_text(self) -> list[str | None]:
        """What the rows show, for NiceGUI's simulated user (tests without a browser)."""
        if not self.rows:
            return [EMPTY]
        shown: list[Any] = []
        for row in self.rows:
            when = format.when(row['at'])
            shown += [row['peer'], f'{row["direction"]} · {when}', row['outcome'], f'Call back {row["peer"]}']
            if row['message']:
                shown += [f'Message from {row["peer"]}', row['message_length'], 'Delete message']
        return shown
