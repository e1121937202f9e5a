"""`/call/<id>`: calling, in call (timer, mute, hang up), and how the call ended."""

import html

from nicegui import ui

from voiceconnect.calls.machine import VOICEMAIL, CallState, MemberState
from voiceconnect.calls.views import CallView, MemberView
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged
from web.tabs import current_device, current_tab, subscribe

from . import format
from .actions import attempt, leave_message
from .people_search import PeopleSearch
from .running_clock import RunningClock


def ringing(device: Device, view: CallView) -> None:
    if view.role == 'caller':
        ui.label(f'Calling {view.peer}…').classes('text-h5')
        ui.spinner('audio', size='lg', color='primary')
        ui.button('Cancel', icon='call_end', on_click=lambda: attempt(device.hang_up(view.id))).props(
            'unelevated no-caps color=negative'
        )
    else:
        ui.label(f'{view.peer} is calling you').classes('text-h5')


class InCall:
    """The answered call's view. Built once and updated in place as the call changes (audio connecting, the peer
    reconnecting or muted, mute): rebuilt, its buttons would be new elements, and a click that was on its way
    while the old ones were deleted would be lost without a word."""

    def __init__(self, device: Device, view: CallView) -> None:
        self.device = device
        self.view = view
        recording = view.peer == VOICEMAIL  # a message being left: the recorder listens
        ui.label('Recording…' if recording else f'In call with {view.peer}').classes('text-h5')
        self.timer = RunningClock().classes('text-h4 text-mono').props('role=timer aria-label="Call duration"')
        self.connecting = ui.label('Connecting audio…').classes('text-grey-7')
        with ui.row().classes('items-center gap-1 text-orange-9') as self.peer_away:
            ui.spinner(size='sm')
            ui.label(f'Reconnecting… {view.peer} lost the connection for a moment')
        with ui.row().classes('items-center gap-1 text-orange-9') as self.peer_muted:
            ui.icon('mic_off')
            ui.label(f'{view.peer} is muted')
        self.me_muted = ui.label('Your microphone is off').classes('text-grey-7')
        ui.html(indicators(view.peer), sanitize=False)
        self.participants = Participants(device, view)
        with ui.row().classes('q-mt-md'):
            self.mute = ui.button(on_click=lambda: attempt(device.set_muted(view.id, not self.view.me_muted)))
            self.mute.props('outline no-caps data-vc-mute')  # `m` presses it (the browser module's shortcuts)
            if recording:  # the recorder keeps what it heard once the call ends
                ui.button('Send', icon='send', on_click=lambda: attempt(device.hang_up(view.id))).props(
                    'unelevated no-caps color=primary'
                )
            else:
                ui.button('Hang up', icon='call_end', on_click=lambda: attempt(device.hang_up(view.id))).props(
                    'unelevated no-caps color=negative'
                )
            if not recording and view.peer not in device.built_in_contacts:  # a group needs people
                AddPerson(device, view.id)
        self.update(view)

    def update(self, view: CallView) -> None:
        self.view = view
        self.timer.show(view.duration(self.device.now()))
        self.connecting.set_visibility(view.state == CallState.CONNECTING)
        self.peer_away.set_visibility(view.peer_reconnecting)
        self.peer_muted.set_visibility(view.peer_muted)
        self.me_muted.set_visibility(view.me_muted)
        self.mute.set_text('Unmute' if view.me_muted else 'Mute')
        self.mute.props(f'icon={"mic" if view.me_muted else "mic_off"}')
        self.participants.update(view)


class AddPerson:
    """`Add person`: a dialog that finds people by name (as the dashboard's search does), `Add <name>` each."""

    def __init__(self, device: Device, call_id: str) -> None:
        self.device = device
        self.call_id = call_id
        with ui.dialog() as self.dialog, ui.card().classes('q-pa-lg').style('min-width: 320px'):
            ui.label('Add someone to this call').classes('text-h6')
            PeopleSearch(device, on_call=self.add, just_called=tuple, label='Add person', verb='Add', idle=False)
            ui.button('Close', on_click=self.dialog.close).props('flat no-caps')
        ui.button('Add person', icon='person_add', on_click=self.dialog.open).props('outline no-caps')

    async def add(self, name: str) -> None:
        if await attempt(self.device.add_person(self.call_id, name)) is not None:
            self.dialog.close()


STATE_WORDS = {MemberState.RINGING: 'ringing…', MemberState.JOINED: '', MemberState.LEFT: 'left'}


class Participants:
    """The people of a group call, a list (`Participants`) of one item each: their name, `ringing…`, `muted`,
    `Reconnecting…`, `<name> is speaking` (the browser module drives it from that person's link), and for the
    host `Remove <name>`. Shown once a third person is in the call; items are updated in place, never rebuilt."""

    def __init__(self, device: Device, view: CallView) -> None:
        self.device = device
        self.call_id = view.id
        self.items: dict[str, Participant] = {}
        self.list = ui.element('ul').props('aria-label=Participants').classes('vc-participants q-pl-none q-my-md')

    def update(self, view: CallView) -> None:
        group = len(view.members) > 2
        self.list.set_visibility(group)
        if not group and not self.items:  # a 1:1 call: its indicators above say it all, no second copy of them
            return
        me_host = view.role == 'caller'
        for member in view.members:
            if member.name not in self.items:
                if member.state == MemberState.LEFT:
                    continue
                with self.list:
                    self.items[member.name] = Participant(self, member.name, self.device.user, removable=me_host)
            self.items[member.name].show(member)

    async def remove(self, name: str) -> None:
        await attempt(self.device.remove_person(self.call_id, name))


class Participant:
    def __init__(self, people: Participants, name: str, me: str, removable: bool) -> None:
        you = name == me
        with ui.element('li').classes('row items-center gap-2 q-py-xs') as self.item:
            ui.label(f'{name} (you)' if you else name).classes('text-weight-medium')
            self.state = ui.label().classes('text-grey-8')
            self.muted = ui.label('muted').classes('text-grey-8')
            self.away = ui.label('Reconnecting…').classes('text-orange-9')
            if not you:
                ui.html(speaking(name), sanitize=False)
                if removable:
                    ui.button(f'Remove {name}', icon='person_remove', on_click=lambda: people.remove(name)).props(
                        'flat dense no-caps color=negative'
                    )

    def show(self, member: MemberView) -> None:
        self.item.set_visibility(member.state != MemberState.LEFT)
        self.state.text = STATE_WORDS[member.state]
        self.state.set_visibility(member.state == MemberState.RINGING)
        self.muted.set_visibility(member.muted and member.state == MemberState.JOINED)
        self.away.set_visibility(member.reconnecting)


def speaking(name: str) -> str:
    """`<name> is speaking`: static markup the browser module shows while that person's voice is heard."""
    name = html.escape(name)
    return (
        f'<span class="vc-peer-speaking text-positive" data-vc-speaking-of="{name}" role="status"'
        f' aria-label="{name} is speaking">{icon("volume_up")} {name} is speaking</span>'
    )


def indicators(peer: str) -> str:
    """Who is speaking and how good the line is: static markup the browser module drives several times a second
    from the audio itself and getStats (no server round trip per frame)."""
    peer = html.escape(peer)
    return (
        '<div class="row items-center q-gutter-md q-mt-sm">'
        '<span class="vc-speaking vc-speaking-local text-positive" role="status" aria-label="You are speaking">'
        f'{icon("mic")} You are speaking</span>'
        f'<span class="vc-speaking vc-speaking-remote text-positive" role="status" aria-label="{peer} is speaking">'
        f'{icon("volume_up")} {peer} is speaking</span>'
        '<span id="vc-quality" class="text-grey-7" role="status">Checking the connection…</span>'
        '</div>'
    )


def icon(name: str) -> str:
    """A Material icon in static markup, as `ui.icon` draws it: the icon font is there on every system, unlike a
    colour-emoji font (without one an emoji is an empty box)."""
    return f'<i class="q-icon notranslate material-icons" aria-hidden="true" role="presentation">{name}</i>'


def ended(device: Device, view: CallView) -> None:
    if view.peer == VOICEMAIL:
        message_ended(view)
        return
    ui.label(format.outcome(view)).classes('text-h5')
    if view.answered_at is not None and view.ended_at is not None:
        ui.label(f'Duration {format.duration(view.duration(view.ended_at))}').classes('text-h6 text-mono')
    if (why := format.detail(view)) is not None:
        ui.label(why).classes('text-grey-8')
    if view.message_may_follow and device.takes_messages and view.peer not in device.built_in_contacts:
        ui.button('Leave a message', icon='voicemail', on_click=lambda: leave_message(device, view.id)).props(
            'unelevated no-caps q-mt-md color=primary'
        )
    ui.button('Back to dashboard', on_click=lambda: ui.navigate.to('/')).props('unelevated no-caps q-mt-md')


def message_ended(view: CallView) -> None:
    """A message's own call is over: it was recorded if the recorder answered."""
    ui.label('Message sent' if view.answered_at is not None else 'Message not sent').classes('text-h5')
    if view.answered_at is not None and view.ended_at is not None:
        ui.label(f'Length {format.duration(view.duration(view.ended_at))}').classes('text-h6 text-mono')
    elif (why := format.detail(view)) is not None:
        ui.label(why).classes('text-grey-8')
    ui.button('Back to dashboard', on_click=lambda: ui.navigate.to('/')).props('unelevated no-caps q-mt-md')


async def page(call_id: str) -> None:
    device = await current_device()
    if device is None:
        return
    tab = current_tab()
    past = None if tab.view_of(call_id) is not None else await device.past_call(call_id)  # e.g. after a restart

    panel: dict[str, InCall] = {}  # the answered call's view while it is shown
    shown: dict[str, str] = {}  # which phase of the call the page shows

    def phase(view: CallView | None) -> str:
        if view is None:
            return 'unavailable'
        if view.state == CallState.RINGING:
            return f'ringing as {view.role}'
        if view.state == CallState.ENDED or view.left_going_call:
            return 'ended'
        return 'in call' if view.here else 'elsewhere'

    @ui.refreshable
    def show() -> None:
        view = tab.view_of(call_id) or past
        panel.clear()
        with ui.card().classes('w-full items-center q-pa-xl q-mt-md'):
            if view is None:
                ui.label('This call is not available here.').classes('text-h6')
                ui.button('Back to dashboard', on_click=lambda: ui.navigate.to('/')).props('unelevated no-caps')
            elif view.state == CallState.RINGING:
                ringing(device, view)
            elif view.state == CallState.ENDED or view.left_going_call:  # over, or over for this user
                ended(device, view)
            elif not view.here:
                ui.label('This call continues in another tab.')
            else:
                panel['in call'] = InCall(device, view)
        shown['phase'] = phase(view)

    def changed(event: CallChanged) -> None:
        if event.call.id != call_id:
            return
        view = tab.view_of(call_id) or past
        if phase(view) != shown['phase']:
            show.refresh()
        elif 'in call' in panel and view is not None:
            panel['in call'].update(view)

    show()

    subscribe(device, CallChanged, changed)
