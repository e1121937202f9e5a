"""One contract, two implementations: the same tests for the in-memory hub and the Redis hub (a real redis-server
started by the test run). What the hub promises the switchboard: sessions make presence, tabs are found in the
order they attached, news reaches exactly the tabs it is for, and who is in a call follows the calls."""

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from redis.asyncio import Redis

from voiceconnect.calls.machine import Call, CallState, EndReason
from voiceconnect.cluster.redis_hub import RedisHub
from voiceconnect.connections.events import CallChanged, OnlineUser, Presence, PresenceChange, PresenceChanged
from voiceconnect.connections.hub import Hub
from voiceconnect.connections.memory_hub import InMemoryHub


@dataclass(eq=False)
class FakeEndpoint:
    id: str
    user: str
    reload_key: str | None = None
    events: list[Any] = field(default_factory=list)
    relayed: list[dict[str, Any]] = field(default_factory=list)

    def deliver(self, event: Any) -> None:
        self.events.append(event)

    def relay(self, message: dict[str, Any]) -> None:
        self.relayed.append(message)

    def presence(self) -> list[tuple[str, Presence]]:
        return [(c.name, c.presence) for e in self.events if isinstance(e, PresenceChanged) for c in e.changes]


class QuietListener:
    async def session_logged_out(self, token_digest: str) -> None:
        pass

    async def user_lost(self, user: str) -> None:
        pass

    async def device_lost(self, user: str, device: str) -> None:
        pass

    async def device_gone(self, user: str, device: str) -> None:
        pass

    def shared_state_lost(self) -> None:
        pass

    def shared_state_back(self) -> None:
        pass


MakeHub = Callable[[], Awaitable[Hub]]


@pytest.fixture(params=['memory', 'redis'])
async def make_hub(request: pytest.FixtureRequest) -> AsyncIterator[MakeHub]:
    hubs: list[Hub] = []
    clients: list[Redis] = []

    async def make() -> Hub:
        if request.param == 'memory':
            hub: Hub = InMemoryHub()
        else:
            client = Redis.from_url(request.getfixturevalue('redis_url'))
            clients.append(client)
            hub = RedisHub(client, f'test-{len(hubs)}', lease_s=20)
        hub.listen(QuietListener())
        await hub.start()
        hubs.append(hub)
        return hub

    yield make
    for hub in hubs:
        await hub.stop()
    for client in clients:
        await client.aclose()


async def eventually(condition: Callable[[], bool], what: str, timeout: float = 3.0) -> None:
    """News that crosses Redis arrives a moment later than it is sent."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not condition():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f'not so within {timeout} s: {what}')
        await asyncio.sleep(0.01)


def call_between(caller: FakeEndpoint, callee: FakeEndpoint, state: CallState = CallState.RINGING) -> Call:
    call = Call(id='c1', caller=caller.user, callee=callee.user, caller_device=caller.id, created=1.0, state=state)
    call.legs['l1'] = callee.id
    return call


async def test_the_first_session_brings_a_user_online_and_the_last_takes_them_offline(make_hub: MakeHub) -> None:
    hub = await make_hub()
    assert await hub.open_session('s1', 'alice') is True
    assert await hub.open_session('s2', 'alice') is False
    assert hub.is_online('alice')
    assert await hub.close_session('s1', 'alice') is False
    assert hub.is_online('alice')
    assert await hub.close_session('s2', 'alice') is True
    assert not hub.is_online('alice')


async def test_online_users_are_sorted_and_leave_out_whom_asked(make_hub: MakeHub) -> None:
    hub = await make_hub()
    for session, user in (('s1', 'carol'), ('s2', 'alice'), ('s3', 'bob')):
        await hub.open_session(session, user)
    assert [u.name for u in hub.online_users()] == ['alice', 'bob', 'carol']
    assert hub.online_users(excluding='bob') == (OnlineUser('alice', False), OnlineUser('carol', False))


async def test_presence_reaches_every_other_users_tabs_but_not_the_users_own(make_hub: MakeHub) -> None:
    hub = await make_hub()
    alice, bob = FakeEndpoint('a1', 'alice'), FakeEndpoint('b1', 'bob')
    for endpoint in (alice, bob):
        await hub.attach(endpoint)
    hub.publish_presence(PresenceChange('alice', Presence.ONLINE))
    await eventually(lambda: bob.presence() == [('alice', Presence.ONLINE)], 'bob heard alice came')
    await asyncio.sleep(0.05)
    assert alice.presence() == [] and bob.presence() == [('alice', Presence.ONLINE)]  # once, and not to alice


async def test_tabs_are_found_in_the_order_they_attached_until_they_detach(make_hub: MakeHub) -> None:
    hub = await make_hub()
    for device in ('b1', 'b2', 'b3'):
        await hub.attach(FakeEndpoint(device, 'bob'))
        await asyncio.sleep(0.002)  # attach times differ
    assert await hub.devices_of('bob') == ['b1', 'b2', 'b3']
    await hub.detach('bob', 'b2')
    assert await hub.devices_of('bob') == ['b1', 'b3']
    assert await hub.devices_of('nobody') == []


async def test_the_previous_document_of_a_tab_is_found_by_its_reload_key(make_hub: MakeHub) -> None:
    hub = await make_hub()
    await hub.attach(FakeEndpoint('old', 'alice', reload_key='tab-1'))
    await hub.attach(FakeEndpoint('other', 'alice', reload_key='tab-2'))
    await hub.attach(FakeEndpoint('new', 'alice', reload_key='tab-1'))
    assert await hub.previous_document('alice', 'tab-1', excluding='new') == 'old'
    assert await hub.previous_document('alice', 'tab-3', excluding='new') is None
    assert await hub.previous_document('bob', 'tab-1', excluding='new') is None


async def test_a_call_change_reaches_both_peoples_tabs_each_with_its_own_view(make_hub: MakeHub) -> None:
    hub = await make_hub()
    alice, bob, carol = FakeEndpoint('a1', 'alice'), FakeEndpoint('b1', 'bob'), FakeEndpoint('c1', 'carol')
    for endpoint in (alice, bob, carol):
        await hub.attach(endpoint)
    hub.call_changed(call_between(alice, bob))
    views = {e.user: [x.call for x in e.events if isinstance(x, CallChanged)] for e in (alice, bob, carol)}
    assert [(v.role, v.peer, v.leg) for v in views['alice']] == [('caller', 'bob', None)]
    assert [(v.role, v.peer, v.leg) for v in views['bob']] == [('callee', 'alice', 'l1')]
    assert views['carol'] == []


async def test_who_is_in_a_call_follows_the_calls(make_hub: MakeHub) -> None:
    hub = await make_hub()
    alice, bob, carol = FakeEndpoint('a1', 'alice'), FakeEndpoint('b1', 'bob'), FakeEndpoint('c1', 'carol')
    for number, endpoint in enumerate((alice, bob, carol)):
        await hub.open_session(f's{number}', endpoint.user)
        await hub.attach(endpoint)
    call = call_between(alice, bob)
    hub.call_changed(call)
    await eventually(lambda: hub.online_users(excluding='carol')[0].in_call, 'alice shown in a call')
    await eventually(lambda: ('bob', Presence.IN_CALL) in carol.presence(), 'carol heard bob is in a call')
    call.state, call.end_reason = CallState.ENDED, EndReason.CANCELLED
    hub.call_changed(call)
    await eventually(lambda: not any(u.in_call for u in hub.online_users()), 'nobody shown in a call')
    await eventually(
        lambda: (
            carol.presence()[-2:]
            in (
                [('alice', Presence.ONLINE), ('bob', Presence.ONLINE)],
                [('bob', Presence.ONLINE), ('alice', Presence.ONLINE)],
            )
        ),
        'carol heard both are free',
    )


async def test_a_signaling_message_reaches_exactly_one_tab(make_hub: MakeHub) -> None:
    hub = await make_hub()
    bob1, bob2 = FakeEndpoint('b1', 'bob'), FakeEndpoint('b2', 'bob')
    for endpoint in (bob1, bob2):
        await hub.attach(endpoint)
    hub.relay('bob', 'b2', {'kind': 'answer'})
    assert (bob1.relayed, bob2.relayed) == ([], [{'kind': 'answer'}])


async def test_do_not_disturb_is_a_presence_everyone_else_sees_while_online(make_hub: MakeHub) -> None:
    hub = await make_hub()
    alice, bob = FakeEndpoint('a1', 'alice'), FakeEndpoint('b1', 'bob')
    for session, endpoint in (('s1', alice), ('s2', bob)):
        await hub.attach(endpoint)
        await hub.open_session(session, endpoint.user)
    assert hub.presence_of('carol') == Presence.OFFLINE
    await hub.set_do_not_disturb('bob', True)
    await eventually(lambda: alice.presence() == [('bob', Presence.DO_NOT_DISTURB)], 'alice sees bob busy')
    assert hub.presence_of('bob') == Presence.DO_NOT_DISTURB
    assert [u.presence for u in hub.online_users(excluding='alice')] == [Presence.DO_NOT_DISTURB]
    assert bob.presence() == []
    await hub.set_do_not_disturb('bob', False)
    await eventually(lambda: alice.presence()[-1] == ('bob', Presence.ONLINE), 'alice sees bob online again')
    await hub.set_do_not_disturb('carol', True)  # offline: nothing to show
    assert hub.presence_of('carol') == Presence.OFFLINE


async def test_tell_reaches_every_tab_of_that_user_only(make_hub: MakeHub) -> None:
    from voiceconnect.connections.events import MissedCallsSeen

    hub = await make_hub()
    tabs = [FakeEndpoint('b1', 'bob'), FakeEndpoint('b2', 'bob'), FakeEndpoint('a1', 'alice')]
    for tab in tabs:
        await hub.attach(tab)
    hub.tell('bob', MissedCallsSeen())
    await eventually(lambda: all(MissedCallsSeen() in tab.events for tab in tabs[:2]), 'both of bob’s tabs heard')
    assert tabs[2].events == []
