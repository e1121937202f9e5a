"""`/`: who is online, with a `Call <name>` button each."""

import asyncio

from nicegui import ui

from voiceconnect.device import Device
from voiceconnect.events import Presence, PresenceChanged
from web.tabs import current_device, subscribe

from .actions import attempt
from .people_list import PeopleList

CALL_STARTED_DELAY_S = 0.05  # a ring and the first signaling of a call go out before the lists hear of it
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


async def page() -> None:
    device = await current_device()
    if device is None:
        return
    ui.label('Online now').classes('text-h6 q-mt-md')
    people = PeopleList(device, on_call=lambda name: place_call(device, name)).classes('w-full')

    def apply_if_still_here(event: PresenceChanged) -> None:
        if not people.is_deleted:  # the user may have left the dashboard in the meantime
            people.apply(event.changes)

    def presence_changed(event: PresenceChanged) -> None:
        if any(change.presence == Presence.IN_CALL for change in event.changes):  # a call is ringing right now
            asyncio.get_running_loop().call_later(CALL_STARTED_DELAY_S, apply_if_still_here, event)
        else:
            apply_if_still_here(event)

    subscribe(device, PresenceChanged, presence_changed)
    for contact in device.contacts:  # always there, never busy: the Sound test
        with ui.row().classes('items-center q-mt-md'):
            ui.label(contact).classes('text-subtitle1')
            ui.label('answers, records what you say and plays it back').classes('text-grey-7')
            ui.button(f'Call {contact}', icon='call', on_click=lambda c=contact: place_call(device, c)).props(
                'unelevated no-caps'
            )
