"""`/`: who is online, with a `Call <name>` button each."""

import asyncio

from nicegui import ui

from voiceconnect.device import Device
from voiceconnect.events import OnlineUser, PresenceChanged
from web.tabs import current_device, subscribe

from .actions import attempt

PRESENCE_DELAY_S = 0.05  # a ring and the first signaling of a call go out before the list is redrawn
CALLER_PAGE_DELAY_S = 0.02  # the callee's ring leaves the server before the caller's page is built


async def place_call(device: Device, name: str) -> None:
    view = await attempt(device.call_user(name))
    if view is None:
        return
    client = ui.context.client

    def show_call_page() -> None:
        with client:
            ui.navigate.to(f'/call/{view.id}')

    asyncio.get_running_loop().call_later(CALLER_PAGE_DELAY_S, show_call_page)


class PeopleList:
    """The online list; a change of who is online redraws it, a change of who is in a call only flips badges."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self.badges: dict[str, ui.badge] = {}
        self.names: list[str] | None = None  # who the list shows now, in order
        self.container = ui.column().classes('w-full')
        self.show(device.online_users())

    def show(self, online: tuple[OnlineUser, ...]) -> None:
        if [p.name for p in online] != self.names:
            self._draw(online)
        for person in online:
            self.badges[person.name].set_visibility(person.in_call)

    def _draw(self, online: tuple[OnlineUser, ...]) -> None:
        self.names = [p.name for p in online]
        self.badges.clear()
        with self.container.clear():
            if not online:
                ui.label('Nobody else is online yet. Ask someone to sign in.').classes('text-grey-7')
                return
            with ui.list().props('bordered separator').classes('w-full bg-white rounded-borders'):
                for person in online:
                    self._row(person.name)

    def _row(self, name: str) -> None:
        with ui.item().classes('items-center'):
            with ui.item_section().props('avatar'):
                ui.avatar(name[0].upper(), color='primary', text_color='white')
            with ui.item_section():
                ui.item_label(name).classes('text-weight-medium')
            with ui.item_section().props('side'), ui.row().classes('items-center'):
                self.badges[name] = ui.badge('In a call', color='orange')
                ui.button(f'Call {name}', icon='call', on_click=lambda: place_call(self.device, name)).props(
                    'unelevated no-caps color=positive'
                )


async def page() -> None:
    device = await current_device()
    if device is None:
        return
    ui.label('Online now').classes('text-h6 q-mt-md')
    people = PeopleList(device)

    def show_if_still_here(online: tuple[OnlineUser, ...]) -> None:
        if not people.container.is_deleted:  # the user may have left the dashboard in the meantime
            people.show(online)

    def later(event: PresenceChanged) -> None:
        asyncio.get_running_loop().call_later(PRESENCE_DELAY_S, show_if_still_here, event.online)

    subscribe(device, PresenceChanged, later)
