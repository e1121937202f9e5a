"""`/`: who is online, with a `Call <name>` button each."""

from nicegui import ui

from voiceconnect.calls import CallError
from voiceconnect.connection import Device
from voiceconnect.events import PresenceChanged

from .tab import current_device, subscribe


def place_call(device: Device, name: str) -> None:
    try:
        view = device.call_user(name)
    except CallError as error:
        ui.notify(str(error), type='warning')
        return
    ui.navigate.to(f'/call/{view.id}')


async def page() -> None:
    device = await current_device()
    if device is None:
        return
    ui.label('Online now').classes('text-h6 q-mt-md')

    @ui.refreshable
    def people() -> None:
        online = device.online_users()
        if not online:
            ui.label('Nobody else is online yet. Ask someone to sign in.').classes('text-grey-7')
        with ui.list().props('bordered separator').classes('w-full bg-white rounded-borders'):
            for person in online:
                with ui.item().classes('items-center'):
                    with ui.item_section().props('avatar'):
                        ui.avatar(person.name[0].upper(), color='primary', text_color='white')
                    with ui.item_section():
                        ui.item_label(person.name).classes('text-weight-medium')
                    with ui.item_section().props('side'), ui.row().classes('items-center'):
                        if person.in_call:
                            ui.badge('In a call', color='orange')
                        ui.button(
                            f'Call {person.name}', icon='call', on_click=lambda n=person.name: place_call(device, n)
                        ).props('unelevated no-caps color=positive')

    people()
    subscribe(device, PresenceChanged, lambda _: people.refresh())
