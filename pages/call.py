"""`/call/<id>`: calling, in call (timer, mute, hang up), and how the call ended."""

from nicegui import ui

from voiceconnect.calls import CallError, CallState
from voiceconnect.connection import Device
from voiceconnect.events import CallChanged, CallView, past_call_view

from . import format
from .tab import backend, current_device, current_tab, subscribe


def _act(action: object, *args: object) -> None:
    try:
        action(*args)  # type: ignore[operator]
    except CallError as error:
        ui.notify(str(error), type='warning')


def ringing(device: Device, view: CallView) -> None:
    if view.role == 'caller':
        ui.label(f'Calling {view.peer}…').classes('text-h5')
        ui.spinner('audio', size='lg', color='primary')
        ui.button('Hang up', icon='call_end', on_click=lambda: _act(device.hang_up, view.id)).props(
            'unelevated no-caps color=negative'
        )
    else:
        ui.label(f'{view.peer} is calling you').classes('text-h5')


def in_call(device: Device, view: CallView) -> ui.label:
    ui.label(f'In call with {view.peer}').classes('text-h5')
    timer = ui.label(format.duration(view.duration)).classes('text-h4 text-mono')
    timer.props('role=timer aria-label="Call duration"')
    if view.state == CallState.CONNECTING:
        ui.label('Connecting audio…').classes('text-grey-7')
    if view.peer_reconnecting:
        with ui.row().classes('items-center gap-1 text-orange-9'):
            ui.spinner(size='sm')
            ui.label(f'Reconnecting… {view.peer} lost the connection for a moment')
    if view.peer_muted:
        with ui.row().classes('items-center gap-1 text-orange-9'):
            ui.icon('mic_off')
            ui.label(f'{view.peer} is muted')
    if view.me_muted:
        ui.label('Your microphone is off').classes('text-grey-7')
    with ui.row().classes('q-mt-md'):
        label = 'Unmute' if view.me_muted else 'Mute'
        ui.button(
            label,
            icon='mic' if view.me_muted else 'mic_off',
            on_click=lambda: _act(device.set_muted, view.id, not view.me_muted),
        ).props('outline no-caps')
        ui.button('Hang up', icon='call_end', on_click=lambda: _act(device.hang_up, view.id)).props(
            'unelevated no-caps color=negative'
        )
    return timer


def ended(view: CallView) -> None:
    ui.label(format.outcome(view)).classes('text-h5')
    if view.answered_at is not None:
        ui.label(f'Duration {format.duration(view.duration)}').classes('text-h6 text-mono')
    if (why := format.detail(view)) is not None:
        ui.label(why).classes('text-grey-8')
    ui.button('Back to dashboard', on_click=lambda: ui.navigate.to('/')).props('unelevated no-caps q-mt-md')


async def page(call_id: str) -> None:
    device = await current_device()
    if device is None:
        return
    tab = current_tab()
    timer: dict[str, ui.label] = {}
    past = None
    if tab.view_of(call_id) is None and (row := await backend().store.get_call(call_id)) is not None:
        past = past_call_view(row, device.user)  # e.g. after a server restart: the row says how it ended

    @ui.refreshable
    def show() -> None:
        view = tab.view_of(call_id) or past
        timer.clear()
        with ui.card().classes('w-full items-center q-pa-xl q-mt-md'):
            if view is None:
                ui.label('This call is not available here.').classes('text-h6')
                ui.button('Back to dashboard', on_click=lambda: ui.navigate.to('/')).props('unelevated no-caps')
            elif view.state == CallState.RINGING:
                ringing(device, view)
            elif view.state == CallState.ENDED or not view.here:
                ended(view) if view.state == CallState.ENDED else ui.label('This call continues in another tab.')
            else:
                timer['label'] = in_call(device, view)

    def tick() -> None:
        view = tab.view_of(call_id)
        if 'label' in timer and view and view.answered_at:
            timer['label'].text = format.duration(view.duration)

    show()
    ui.timer(0.5, tick)
    subscribe(device, CallChanged, lambda event: event.call.id == call_id and show.refresh())
