"""`/`: who is online, with a `Call <name>` button each."""

import asyncio

from nicegui import background_tasks, ui

from voiceconnect.calls.machine import CallState
from voiceconnect.calls.views import CallView
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged, MessagesChanged, Presence, PresenceChanged
from web.nicegui_fixes.page_elements import TextTag
from web.tabs import TabState, current_device, current_tab, subscribe

from .actions import place_call
from .people_list import PeopleList
from .people_search import PeopleSearch
from .recent_calls import PAGE, RecentCalls

CALL_STARTED_DELAY_S = 0.05  # a ring and the first signaling of a call go out before the lists hear of it


async def recent_views(device: Device, tab: TabState) -> list[CallView]:
    """The newest finished calls: from the history, and those this tab saw end whose rows are still being written."""
    views = {view.id: view for view in await device.recent_calls(PAGE)}
    for view in tab.views.values():
        if view.state == CallState.ENDED and view.id not in views:
            views[view.id] = view
    newest_first = sorted(views.values(), key=lambda view: view.created or view.ended_at or 0, reverse=True)
    return newest_first[:PAGE]


async def page() -> None:
    device = await current_device()
    if device is None:
        return
    tab = current_tab()

    async def call(name: str) -> None:
        await place_call(device, name)

    ended_here = [view for view in tab.views.values() if view.state == CallState.ENDED]
    search = PeopleSearch(device, on_call=call, just_called=lambda: [view.peer for view in ended_here])
    ui.label('Online now').classes('text-h6 q-mt-md')
    people = PeopleList(device, on_call=call).classes('w-full')
    TextTag('h2', 'Recent calls').classes('text-h6 q-mt-lg q-mb-sm').props('id=vc-recent-calls')
    recent = RecentCalls(device, await recent_views(device, tab), on_call=call).classes('w-full')
    await search.show()

    def apply_if_still_here(event: PresenceChanged) -> None:
        if not people.is_deleted:  # the user may have left the dashboard in the meantime
            people.apply(event.changes)

    def presence_changed(event: PresenceChanged) -> None:
        if any(change.presence == Presence.IN_CALL for change in event.changes):  # a call is ringing right now
            asyncio.get_running_loop().call_later(CALL_STARTED_DELAY_S, apply_if_still_here, event)
        else:
            apply_if_still_here(event)
        if search.concerns(event.changes):
            background_tasks.create(search.show(), name='search people')

    def call_changed(event: CallChanged) -> None:
        view = event.call
        if view.state != CallState.ENDED:
            return
        recent.add(view)
        if view.peer not in search.contacts:  # a new contact (listed once offline)
            background_tasks.create(search.show(), name='search people')

    subscribe(device, PresenceChanged, presence_changed)
    for contact in device.built_in_contacts:  # always there, never busy: the Sound test
        with ui.row().classes('items-center q-mt-md'):
            ui.label(contact).classes('text-subtitle1')
            ui.label('answers, records what you say and plays it back').classes('text-grey-8')
            ui.button(f'Call {contact}', icon='call', on_click=lambda c=contact: place_call(device, c)).props(
                'unelevated no-caps'
            )
    subscribe(device, CallChanged, call_changed)

    async def show_messages() -> None:
        views = await recent_views(device, tab)
        if not recent.is_deleted:
            recent.replace(views)

    def messages_changed(_: MessagesChanged) -> None:
        background_tasks.create(show_messages(), name='recent calls')

    subscribe(device, MessagesChanged, messages_changed)
