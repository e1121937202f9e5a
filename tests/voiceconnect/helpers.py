"""Test doubles and helpers for the core's unit tests: a switchboard on a fake clock with the in-memory hub, and
fake tabs that record what they hear.

A test signs people in with `await world.tab('bob')` (a new tab of bob's browser; `browser=` for another
browser) and gets the `Device` a page author would hold; `device.tab` is the `FakeTab` that records the events
and relayed signaling messages the browser would get.
"""

import itertools
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

import pytest

from voiceconnect.calls.machine import Call
from voiceconnect.calls.manager import CallManager
from voiceconnect.calls.views import CallView
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged, Event, OnlineUser, Presence, PresenceChanged, SignedOut
from voiceconnect.connections.memory_hub import InMemoryHub
from voiceconnect.connections.service import ConnectionService
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.ratelimit import Limits
from voiceconnect.settings import Timeouts

T = TypeVar('T')

GRACE_S = 20
RING_TIMEOUT_S = 45
MEDIA_TIMEOUT_S = 20
SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\n'
CANDIDATE = 'candidate:1 1 udp 2122260223 127.0.0.2 50000 typ host'


class FakeTab:
    """What the browser of one tab would receive."""

    def __init__(self) -> None:
        self.events: list[Event] = []
        self.relayed: list[dict[str, Any]] = []
        self.listed: tuple[OnlineUser, ...] | None = None  # who its page listed when it was built

    def deliver(self, event: Event) -> None:
        self.events.append(event)

    def relay(self, message: dict[str, Any]) -> None:
        self.relayed.append(message)

    def clear(self) -> None:
        self.events.clear()
        self.relayed.clear()

    @property
    def views(self) -> list[CallView]:
        return [event.call for event in self.events if isinstance(event, CallChanged)]

    def views_of(self, call_id: str) -> list[CallView]:
        return [view for view in self.views if view.id == call_id]

    def last_view(self, call_id: str) -> CallView:
        views = self.views_of(call_id)
        assert views, f'this tab heard nothing about call {call_id}'
        return views[-1]

    @property
    def presence(self) -> tuple[OnlineUser, ...]:
        """Who this tab's dashboard lists now: what it listed when built, with every change it heard applied."""
        assert self.listed is not None, 'this tab listed nobody yet'
        listed = {user.name: user.in_call for user in self.listed}
        for event in self.events:
            if isinstance(event, PresenceChanged):
                for change in event.changes:
                    if change.presence == Presence.OFFLINE:
                        listed.pop(change.name, None)
                    else:
                        listed[change.name] = change.presence == Presence.IN_CALL
        return tuple(OnlineUser(name, in_call) for name, in_call in sorted(listed.items()))

    @property
    def online_names(self) -> list[str]:
        return [user.name for user in self.presence]

    @property
    def signed_out(self) -> list[SignedOut]:
        return [event for event in self.events if isinstance(event, SignedOut)]


class FakeRecorder:
    """Records what the call manager would write to the database."""

    def __init__(self) -> None:
        self.created: list[Call] = []
        self.answered: list[Call] = []
        self.finished: list[Call] = []

    def call_created(self, call: Call) -> None:
        self.created.append(call)

    def call_answered(self, call: Call) -> None:
        self.answered.append(call)

    def call_finished(self, call: Call) -> None:
        self.finished.append(call)

    async def past_call(self, call_id: str, user: str) -> CallView | None:
        return None


def make_board(clock: FakeClock, recorder: FakeRecorder, limits: Limits | None = None) -> Switchboard:
    timeouts = Timeouts(ring_timeout_s=RING_TIMEOUT_S, reconnect_grace_s=GRACE_S, media_timeout_s=MEDIA_TIMEOUT_S)
    return Switchboard(clock, InMemoryHub(), recorder, timeouts, limits)


def settle(awaitable: Awaitable[T]) -> T:
    """Run a coroutine of the in-memory core to its end, here and now. It never waits for anything real (no I/O,
    no sleeping), so one step finishes it; this lets hypothesis's synchronous state machines drive the async API."""
    steps = awaitable.__await__()
    try:
        steps.send(None)
    except StopIteration as done:
        return done.value
    raise AssertionError('the in-memory core waited for something')


@dataclass
class World:
    clock: FakeClock
    recorder: FakeRecorder
    board: Switchboard
    _ids: itertools.count = field(default_factory=itertools.count)
    _services: dict[str, ConnectionService] = field(default_factory=dict)  # device → the service it attached to

    @property
    def hub(self) -> InMemoryHub:
        assert isinstance(self.board.hub, InMemoryHub)
        return self.board.hub

    @property
    def calls(self) -> CallManager:
        return self.board.calls

    async def service(self, user: str, browser: str | None = None) -> ConnectionService:
        browser = browser or f'{user}-browser'
        return await self.board.service_for(browser, user, f'token-{user}-{browser}')

    def service_of(self, device: Device) -> ConnectionService:
        """The connection service a device is (or was) attached to."""
        return self._services[device.id]

    async def attach(self, service: ConnectionService, tab_key: str | None = None) -> Device:
        """A new tab's document attaches to `service` (a FakeTab records what its browser would get)."""
        tab = FakeTab()
        device = await self.board.attach(service, f'{service.user}-tab{next(self._ids)}', tab, tab_key)
        tab.listed = device.online_users()  # what a page built now would list
        self._services[device.id] = service
        return device

    async def tab(self, user: str, browser: str | None = None, tab_key: str | None = None) -> Device:
        """A new connected tab signed in as `user` (in the user's usual browser unless `browser` is given).
        `tab_key` names the browser tab across reloads (NiceGUI's tab id); see `reload`."""
        return await self.attach(await self.service(user, browser), tab_key)

    async def reload(self, device: Device) -> Device:
        """The tab is reloaded: its socket drops, then its new document attaches with the same tab key while the
        old document is still attached (NiceGUI deletes the old client only later). Returns the new document."""
        assert device.tab_key is not None, 'only a tab with a tab_key can be reloaded'
        await device.set_connected(False)
        return await self.attach(self.service_of(device), device.tab_key)

    def call(self, call_id: str) -> Call:
        """The server's call object, live or ended (every call that was placed was recorded)."""
        return next(call for call in self.recorder.created if call.id == call_id)

    def live_calls(self) -> list[Call]:
        return list(self.board.calls.calls.values())


def tab_of(device: Device) -> FakeTab:
    assert isinstance(device.tab, FakeTab)
    return device.tab


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The app's log lines so far, including those logged while fixtures were set up."""
    records = caplog.get_records('setup') + caplog.get_records('call')
    return [record.getMessage() for record in records if record.name == 'voiceconnect']


# call helpers: each returns the call id


async def ring(caller: Device, callee: Device) -> str:
    return (await caller.call_user(callee.user)).id


async def answer(caller: Device, callee: Device) -> str:
    call_id = await ring(caller, callee)
    await callee.accept(call_id)
    return call_id


async def media_up(device: Device, call_id: str) -> None:
    await device.signal({'kind': 'media_up', 'call_id': call_id})


async def talk(caller: Device, callee: Device) -> str:
    """A call that is answered and whose audio flows both ways."""
    call_id = await answer(caller, callee)
    await media_up(caller, call_id)
    await media_up(callee, call_id)
    return call_id


def leg_of(device: Device, call_id: str) -> str:
    leg = tab_of(device).last_view(call_id).leg
    assert leg is not None
    return leg


def offer(call_id: str, leg: str, sdp: str = SDP) -> dict[str, Any]:
    return {'kind': 'offer', 'call_id': call_id, 'leg': leg, 'sdp': sdp}


def answer_signal(call_id: str, leg: str, sdp: str = SDP) -> dict[str, Any]:
    return {'kind': 'answer', 'call_id': call_id, 'leg': leg, 'sdp': sdp}


def candidate(call_id: str, leg: str, text: str = CANDIDATE) -> dict[str, Any]:
    return {
        'kind': 'candidate',
        'call_id': call_id,
        'leg': leg,
        'candidate': text,
        'sdp_mid': '0',
        'sdp_mline_index': 0,
    }


def seen(device: Device, call_id: str) -> CallView:
    """The latest view of a call this device's tab was sent."""
    return tab_of(device).last_view(call_id)
