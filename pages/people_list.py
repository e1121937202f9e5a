"""The online list: one element whose rows are data, so a presence change costs the same whatever the number of
people online: one small message to each open dashboard, never a redraw (people_list.js renders the rows)."""

from collections.abc import Awaitable, Callable

from nicegui import ui
from nicegui.events import GenericEventArguments

from voiceconnect.calls.machine import CallError
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import Presence, PresenceChange
from web.nicegui_fixes.page_elements import ShownText

from .actions import first_arg

NOBODY = 'Nobody else is online yet. Ask someone to sign in.'


class PeopleList(ShownText, component='people_list.js'):
    """Everyone else online, with `Call <name>` each. The server keeps no copy of the list per page: the browser
    asks for the whole list when it shows it (and again after a reconnect), then hears only changes."""

    def __init__(self, device: Device, on_call: Callable[[str], Awaitable[None]]) -> None:
        super().__init__()
        self._props['nobody'] = NOBODY
        self.device = device
        self.on('ready', self._send_all)
        self.on('call', lambda event: self._call(event, on_call))

    def apply(self, changes: tuple[PresenceChange, ...]) -> None:
        self.run_method('apply', [[change.name, str(change.presence)] for change in changes])

    def _send_all(self) -> None:
        try:
            people = self.device.list_online_users()  # LIST_REFRESHES_PER_MINUTE
        except CallError as refused:
            ui.notify(str(refused), type='warning')
            return
        self.run_method('reset', [[person.name, str(person.presence)] for person in people])

    @staticmethod
    async def _call(event: GenericEventArguments, on_call: Callable[[str], Awaitable[None]]) -> None:
        if isinstance(name := first_arg(event), str):  # anything else did not come from this list
            await on_call(name)

    def shown_text(self) -> list[str | None]:
        """What the rows show, for NiceGUI's simulated user (tests without a browser)."""
        people = self.device.online_users()
        if not people:
            return ['0 online', NOBODY]
        shown = [f'{len(people)} online']
        labels = {Presence.IN_CALL: 'In a call', Presence.DO_NOT_DISTURB: 'Do not disturb'}
        return shown + [text for p in people for text in (p.name, f'Call {p.name}', labels.get(p.presence))]
