"""Random sequences of everything people and their tabs can do; the hub's promises must hold after every step.

Any action may be refused with a CallError (that is the server saying no); any other exception is a bug.
"""

import contextlib
from collections.abc import Awaitable, Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from voiceconnect.calls.machine import CallError, CallState
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.memory_hub import InMemoryHub

from .helpers import (
    GRACE_S,
    RING_TIMEOUT_S,
    FakeRecorder,
    World,
    answer_signal,
    candidate,
    make_board,
    offer,
    settle,
    tab_of,
)

USERS = ['alice', 'bob', 'carol']
MAX_TABS = 7
tab_index = st.integers(min_value=0, max_value=MAX_TABS - 1)


class CallingPeople(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        clock, recorder = FakeClock(), FakeRecorder()
        self.world = World(clock, recorder, make_board(clock, recorder))

    @property
    def hub(self) -> InMemoryHub:
        return self.world.hub

    def tabs(self) -> list[Device]:
        """The tabs attached right now (closed and signed-out ones are gone)."""
        return list(self.world.board.devices.values())

    def tab(self, index: int) -> Device | None:
        tabs = self.tabs()
        return tabs[index % len(tabs)] if tabs else None

    def attempt(self, index: int, action: Callable[[Device], Awaitable[object]]) -> None:
        if (device := self.tab(index)) is not None:
            with contextlib.suppress(CallError):
                settle(action(device))

    def own_call(self, device: Device) -> str:
        return device.call.id if device.call else 'cNone'

    @initialize()
    def everyone_signs_in(self) -> None:
        for user in USERS:
            settle(self.world.tab(user))

    @rule(user=st.sampled_from(USERS), browser=st.sampled_from(['laptop', 'phone']))
    def open_a_tab(self, user: str, browser: str) -> None:
        if len(self.tabs()) < MAX_TABS:
            settle(self.world.tab(user, browser=f'{user}-{browser}'))

    @rule(index=tab_index, callee=st.sampled_from(USERS))
    def call(self, index: int, callee: str) -> None:
        self.attempt(index, lambda d: d.call_user(callee))

    @rule(index=tab_index)
    def accept(self, index: int) -> None:
        self.attempt(index, lambda d: d.accept(self.own_call(d)))

    @rule(index=tab_index)
    def decline(self, index: int) -> None:
        self.attempt(index, lambda d: d.decline(self.own_call(d)))

    @rule(index=tab_index)
    def hang_up(self, index: int) -> None:
        self.attempt(index, lambda d: d.hang_up(self.own_call(d)))

    @rule(index=tab_index, muted=st.booleans())
    def mute(self, index: int, muted: bool) -> None:
        self.attempt(index, lambda d: d.set_muted(self.own_call(d), muted))

    @rule(index=tab_index, kind=st.sampled_from(['offer', 'answer', 'candidate', 'media_up', 'media_up']))
    def signal(self, index: int, kind: str) -> None:
        async def send(device: Device) -> None:
            call_id, view = self.own_call(device), device.call
            leg = (view.leg if view else None) or 'lNone'
            message = {
                'offer': lambda: offer(call_id, leg),
                'answer': lambda: answer_signal(call_id, leg),
                'candidate': lambda: candidate(call_id, leg),
                'media_up': lambda: {'kind': 'media_up', 'call_id': call_id},
            }[kind]()
            await device.signal(message)

        self.attempt(index, send)

    @rule(index=tab_index)
    def a_ringing_tab_answers(self, index: int) -> None:
        ringing = [d for d in self.tabs() if d.call and d.call.ringing_here]
        if ringing:
            device = ringing[index % len(ringing)]
            assert device.call is not None
            settle(device.accept(device.call.id))  # must not be refused: the tab is ringing

    @rule()
    def media_comes_up(self) -> None:
        for call in self.world.live_calls():
            if call.state == CallState.CONNECTING:
                for device_id in call.party_devices():
                    settle(self.world.board.devices[device_id].signal({'kind': 'media_up', 'call_id': call.id}))

    @rule(index=tab_index, now=st.integers(0, 3))
    def media_fails(self, index: int, now: int) -> None:
        if now == 0:  # rarer than the rest: it ends any call it touches
            self.signal_media_failed(index)

    def signal_media_failed(self, index: int) -> None:
        self.attempt(
            index, lambda d: d.signal({'kind': 'media_failed', 'call_id': self.own_call(d), 'reason': 'mic_missing'})
        )

    @rule(index=tab_index, connected=st.booleans())
    def socket(self, index: int, connected: bool) -> None:
        self.attempt(index, lambda d: d.set_connected(connected))

    @rule(index=tab_index)
    def close_tab(self, index: int) -> None:
        self.attempt(index, lambda d: d.detach())

    @rule(index=tab_index)
    def log_out(self, index: int) -> None:
        self.attempt(index, lambda d: self.world.board.end(self.world.service_of(d), 'logout'))

    @rule(seconds=st.sampled_from([0.5, 5, GRACE_S + 1, RING_TIMEOUT_S + 1]))
    def time_passes(self, seconds: float) -> None:
        settle(self.world.clock.advance(seconds))

    # what must always hold

    @invariant()
    def nobody_is_in_two_calls(self) -> None:
        calls = self.world.live_calls()
        for user in USERS:
            assert sum(call.has_user(user) for call in calls) <= 1

    @invariant()
    def the_registry_holds_only_live_calls(self) -> None:
        for call_id, call in self.world.calls.calls.items():
            assert call.id == call_id
            assert call.state != CallState.ENDED

    @invariant()
    def every_call_is_recorded_and_finished_once(self) -> None:
        created = [call.id for call in self.world.recorder.created]
        finished = [call.id for call in self.world.recorder.finished]
        live = set(self.world.calls.calls)
        assert len(set(created)) == len(created)
        assert len(set(finished)) == len(finished)
        assert set(finished) | live == set(created)
        assert not set(finished) & live

    @invariant()
    def live_calls_are_carried_by_attached_tabs_of_online_people(self) -> None:
        for call in self.world.live_calls():
            assert call.party_devices() <= set(self.world.board.devices)
            assert self.hub.is_online(call.caller)
            assert self.hub.is_online(call.callee)
            if call.state == CallState.RINGING:
                assert call.legs

    @invariant()
    def presence_shows_who_is_in_a_call(self) -> None:
        busy = self.world.calls.users_in_calls()
        for user in self.hub.online_users():
            assert user.in_call == (user.name in busy)

    @invariant()
    def every_tab_saw_the_latest_state_of_the_calls_it_saw(self) -> None:
        for device in self.tabs():
            seen = {view.id: view for view in tab_of(device).views}
            for call_id, view in seen.items():
                call = self.world.call(call_id)
                assert view.state == call.state, (device.id, view, call)
                if view.ringing_here:
                    assert call.state == CallState.RINGING


CallingPeople.TestCase.settings = settings(
    max_examples=200, stateful_step_count=40, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
test_calling_people = CallingPeople.TestCase
