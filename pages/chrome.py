"""What outlives a page: the header, the incoming-call dialog, the ongoing-call bar and the audio elements.

Built once per document by the root, so a ringing dialog or a running call survive in-app navigation.
"""

from nicegui import background_tasks, ui

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.calls.views import CallView
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged, DoNotDisturbSet, MessagesChanged, MissedCallsSeen
from web.session import log_out
from web.tabs import TabState

from . import format
from .actions import attempt, place_call
from .announcer import SR_ONLY, Announcer
from .missed_notice import MissedNotice
from .running_clock import RunningClock
from .shortcuts import dialog_html

# Static markup in the page itself, not NiceGUI elements: the browser module plays and shows these, the server
# never changes them, and as elements they would cost memory in every open tab.
AUDIO_AND_SOUND_NOTE = (
    '<div class="hidden-audio">'
    '<audio id="vc-ringtone" src="/assets/ringtone.wav" loop preload="auto"></audio>'
    '<audio id="vc-ringback" src="/assets/ringback.wav" loop preload="auto"></audio>'
    '<audio id="vc-remote-audio" autoplay></audio>'
    '</div>'
    '<div id="vc-sound-blocked" hidden role="alert"'
    ' class="fixed-bottom-right q-ma-md q-pa-sm bg-orange-2 rounded-borders">'
    'Your browser blocked the sound. Click anywhere to hear it.</div>'
    '<div id="vc-device-note" hidden role="alert"'
    ' class="fixed-bottom-left q-ma-md q-pa-sm bg-orange-2 rounded-borders"></div>'
    # push to talk in a call, on every page (the call goes on while you look elsewhere); the browser module shows it
    '<div id="vc-ptt" hidden class="fixed-bottom q-mb-xl text-center" style="pointer-events: none; z-index: 3000">'
    '<span id="vc-ptt-status" role="status" class="q-pa-sm q-mr-sm bg-white rounded-borders shadow-1"></span>'
    '<button id="vc-ptt-talk" type="button" aria-pressed="false" class="q-px-lg q-py-sm"'
    ' style="pointer-events: auto; touch-action: none; user-select: none">Talk</button>'
    '</div>'
    # the audio settings are the browser's business (its devices, its level meter): a native dialog the browser
    # module fills and runs, opened by the header's `Audio settings` button
    '<dialog id="vc-audio-settings" aria-labelledby="vc-audio-title" class="q-pa-lg rounded-borders">'
    '<h2 id="vc-audio-title" class="text-h6 q-my-none">Audio settings</h2>'
    '<div class="column q-gutter-sm q-mt-sm">'
    '<label for="vc-mic-select">Microphone</label>'
    '<select id="vc-mic-select" aria-label="Microphone"></select>'
    '<label for="vc-mic-level">Microphone level</label>'
    '<meter id="vc-mic-level" aria-label="Microphone level" min="0" max="1" low="0.1" value="0"></meter>'
    '<label for="vc-speaker-select">Speaker</label>'
    '<select id="vc-speaker-select" aria-label="Speaker"></select>'
    # the browser's own voice processing (getUserMedia constraints) and push to talk, kept per browser
    + ''.join(
        f'<label><input type="checkbox" role="switch" id="{key}"> {name}</label>'
        for key, name in (
            ('vc-noise-suppression', 'Noise suppression'),
            ('vc-echo-cancellation', 'Echo cancellation'),
            ('vc-auto-gain', 'Automatic gain'),
            ('vc-push-to-talk', 'Push to talk'),
        )
    )
    + '<div class="text-caption text-grey-7">A change applies at once, also during a call. With push to talk you'
    ' are heard only while you hold space (not while typing) or the Talk button.</div>'
    '<button id="vc-audio-close" type="button">Close</button>'
    '</div></dialog>'
    # the browser module's own announcements: the connection going and coming back, while the server may be away
    f'<div id="vc-announce-connection" class="{SR_ONLY}" role="status" aria-live="polite" aria-atomic="true"'
    ' data-say=""></div>'
)


# a call to you that ended unanswered: the notice offers to call back
MISSED_NOTICE_REASONS = (EndReason.CANCELLED, EndReason.MISSED, EndReason.CONNECTION_LOST)


class Chrome:
    def __init__(self, tab: TabState) -> None:
        self.tab = tab
        self.ringing_call: str | None = None
        self.missed_count = 0
        self.counted: set[str] = set()  # missed calls already in the count
        self._dnd_shown: bool | None = None  # as the server last said (a change of the switch from here differs)
        self.announcer = Announcer()
        # One row on every screen: on a narrow one (a phone) the account's controls fold into `Menu` (the same
        # elements, so they keep their roles and names; root.py's HEAD has the CSS, the browser module opens it).
        with ui.header().classes('vc-header items-center bg-white text-dark shadow-1 q-px-md') as self.header:
            with ui.link(target='/').classes('vc-brand row items-center no-wrap gap-1 text-primary no-underline'):
                ui.icon('call', size='28px')
                ui.label('VoiceConnect').classes('text-h6')
            ui.space()
            self.missed = ui.button(on_click=self._missed_seen).props('rounded dense unelevated no-caps color=negative')
            self.missed.classes('vc-missed').set_visibility(False)
            ui.badge('Connecting…').props('id=vc-status').classes('vc-status q-pa-xs bg-warning text-black')
            ui.button(icon='menu').classes('vc-menu-button').props(
                'flat round dense aria-label=Menu aria-controls=vc-account aria-expanded=false data-vc-menu-button'
            )
            with ui.element().classes('vc-account').props('id=vc-account'):
                self.signed_in = ui.label().classes('vc-signed-in text-body2')
                self.dnd = ui.switch('Do not disturb', on_change=self._dnd_switched).props('dense color=negative')
                self.dnd.classes('vc-dnd')
                ui.button('Audio settings', icon='settings_voice').classes('vc-audio').props(
                    'flat no-caps data-vc-audio-settings'
                )
                ui.button('Switch account', on_click=lambda: ui.navigate.to('/login?switch=1')).classes(
                    'vc-switch'
                ).props('flat no-caps')
                ui.button('Log out', on_click=self._log_out).classes('vc-log-out').props('flat no-caps color=negative')
        self.bar = ui.row().classes('w-full items-center q-px-md q-py-sm bg-green-1 gap-3')
        with self.bar:
            ui.icon('call', color='positive')
            self.bar_label = ui.label()
            self.bar_timer = RunningClock().classes('text-mono')
            ui.space()
            ui.button('Return to call', on_click=self._return_to_call).props('unelevated no-caps color=primary')
            ui.button('Hang up', on_click=self._hang_up).props('unelevated no-caps color=negative')
        self.missed_notice = MissedNotice(on_call_back=self._call_back, on_recent_calls=self._missed_seen)
        with ui.dialog().props('persistent') as self.dialog, ui.card().classes('items-center q-pa-lg'):
            ui.icon('ring_volume', size='48px', color='primary')
            ui.label('Incoming call').classes('text-h6')
            self.caller_label = ui.label().classes('text-h5 text-weight-bold')
            self.ring_left = RunningClock(countdown=True).classes('text-grey-7')  # a reload shows the time left too
            with ui.row().classes('q-mt-md'):
                # Accept takes the focus when the dialog opens (Quasar's dialog focuses [data-autofocus], and gives
                # the focus back when it closes); Escape presses Decline (the browser module's shortcuts)
                ui.button('Accept', icon='call', on_click=self._accept).props(
                    'unelevated no-caps color=positive data-vc-accept data-autofocus'  # the module opens the mic
                )
                ui.button('Decline', icon='call_end', on_click=self._decline).props(
                    'unelevated no-caps color=negative data-vc-decline'
                )
        ui.add_body_html(AUDIO_AND_SOUND_NOTE + dialog_html())
        tab.on_device.append(self._device_changed)
        tab.client.sub_pages_router.on_path_changed(lambda _: self._show_bar())
        self._device_changed(None)

    @property
    def device(self) -> Device | None:
        return self.tab.device

    def _device_changed(self, device: Device | None) -> None:
        self.header.set_visibility(device is not None)
        self.missed_notice.clear()  # they were the previous account's
        self.announcer.said.clear()
        if device is None:
            self.dialog.close()
            self.bar.set_visibility(False)
            return
        self.signed_in.text = f'Signed in as {device.user}'
        device.on(CallChanged, self._call_changed)
        device.on(MissedCallsSeen, lambda _: self._missed_calls_seen())
        device.on(DoNotDisturbSet, lambda event: self._show_dnd(event.on))
        device.on(MessagesChanged, lambda _: self._messages_changed(device))
        background_tasks.create(self._load_own_state(device), name='missed calls and do not disturb')
        if device.call is not None:
            self._call_changed(CallChanged(device.call))

    def _call_changed(self, event: CallChanged) -> None:
        with self.tab.client:  # the event may come from another user's action, so speak in this tab's context
            self._show_call(event.call)

    async def _load_own_state(self, device: Device) -> None:
        missed, dnd = await device.missed_calls(), await device.do_not_disturb()
        if self.device is device:
            with self.tab.client:
                self._show_missed(missed)
                self._show_dnd(dnd)

    def _messages_changed(self, device: Device) -> None:
        background_tasks.create(self._load_missed(device), name='missed calls')

    async def _load_missed(self, device: Device) -> None:
        """A message came or went: it counts as a missed call until seen."""
        missed = await device.missed_calls()
        if self.device is device:
            self._show_missed(missed)

    def _show_missed(self, count: int) -> None:
        with self.tab.client:
            self.missed_count = count
            self.missed.text = f'{count} missed'
            self.missed.set_visibility(count > 0)

    def _missed_calls_seen(self) -> None:
        with self.tab.client:
            self._show_missed(0)
            self.missed_notice.clear()

    def _show_dnd(self, on: bool) -> None:
        with self.tab.client:
            self._dnd_shown = on
            self.dnd.value = on

    async def _dnd_switched(self) -> None:
        on = bool(self.dnd.value)
        if self.device is None or on == self._dnd_shown:
            return  # the server's own news, shown
        self._dnd_shown = on
        try:
            await self.device.set_do_not_disturb(on)
        except CallError as refused:  # DND_CHANGES_PER_MINUTE
            ui.notify(str(refused), type='warning')
            self._show_dnd(not on)  # the switch shows what is true
            return
        ui.notify('Do not disturb: calls to you end at once as missed calls' if on else 'You take calls again')

    async def _missed_seen(self) -> None:
        if self.device is not None:
            await self.device.mark_missed_calls_seen()
        ui.navigate.to('/')  # Recent calls, where they are
        ui.run_javascript('setTimeout(() => document.getElementById("vc-recent-calls")?.scrollIntoView(), 300)')

    async def _call_back(self, name: str) -> None:
        """From the missed-call notice: acting on it is seeing the missed calls (as a phone's notification does)."""
        if self.device is not None:
            await place_call(self.device, name)
            await self.device.mark_missed_calls_seen()

    def _show_call(self, view: CallView) -> None:
        self.tab.remember(view)
        self.announcer.call_changed(view)
        if view.missed and view.id not in self.counted:
            self.counted.add(view.id)
            self._show_missed(self.missed_count + 1)
        if view.rings_here:
            self.ringing_call = view.id
            self.caller_label.text = format.who_calls(view)
            if self.device and view.rings_until:
                self.ring_left.show(view.rings_until - self.device.now())
            self.dialog.open()
        elif self.ringing_call == view.id:
            self.ringing_call = None
            self.dialog.close()
            self._tell_callee(view)
        ended_unseen = view.state == CallState.ENDED and not self._on_call_page(view.id)
        shown_by_its_page = {EndReason.BUSY, EndReason.OFFLINE, EndReason.DO_NOT_DISTURB}
        if ended_unseen and view.role == 'caller' and view.end_reason not in shown_by_its_page:
            ui.notify(f'{format.outcome(view)} · {view.peer}')
        self._show_bar()

    def _tell_callee(self, view: CallView) -> None:
        # short notices at the bottom, as every other one: at the top they would lie over the header's controls
        if view.answered_elsewhere:
            ui.notify(f'Call from {view.peer} was answered in another tab')
        elif view.invitation_missed or view.end_reason in (
            EndReason.CANCELLED,
            EndReason.MISSED,
            EndReason.CONNECTION_LOST,
        ):
            self.missed_notice.add(view.peer)
        elif view.end_reason == EndReason.DECLINED and not view.ended_by_me:
            ui.notify(f'Call from {view.peer} was declined in another tab')
        elif view.end_reason == EndReason.FAILED:
            ui.navigate.to(f'/call/{view.id}')  # its page says what went wrong (e.g. the microphone was refused)

    def _on_call_page(self, call_id: str) -> bool:
        return self.tab.client.sub_pages_router.current_path.split('?')[0] == f'/call/{call_id}'

    def _show_bar(self) -> None:
        device = self.device
        view = device.call if device else None
        if not (device and view and view.here and view.state != CallState.RINGING and not self._on_call_page(view.id)):
            self.bar.set_visibility(False)
            self.bar_label.text = ''  # a hidden bar keeps no text, so "In call with …" is on screen once
            self.bar_timer.show(None)
            return
        self.bar.set_visibility(True)
        self.bar_label.text = f'In call with {view.peer}'
        self.bar_timer.show(view.duration(device.now()) if view.answered_at else None)

    async def _accept(self) -> None:
        if self.device and self.ringing_call:
            call_id = self.ringing_call
            if await attempt(self.device.accept(call_id)) is not None:
                ui.navigate.to(f'/call/{call_id}')

    async def _decline(self) -> None:
        if self.device and self.ringing_call:
            await attempt(self.device.decline(self.ringing_call))

    def _return_to_call(self) -> None:
        if self.device and (view := self.device.call):
            ui.navigate.to(f'/call/{view.id}')

    async def _hang_up(self) -> None:
        if self.device and (view := self.device.call):
            await attempt(self.device.hang_up(view.id))

    async def _log_out(self) -> None:
        await log_out(self.tab)
