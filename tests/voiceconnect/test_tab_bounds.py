"""How many tabs (browser documents and program sockets) one user and one client address may hold at once
(TABS_PER_USER, TABS_PER_ADDRESS): past the bound a new one is refused with words for the person, and the ones
already open are never the ones to go. A reload takes its old document's place."""

import pytest

from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device, TooManyTabs
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.ratelimit import Limits

from .helpers import GRACE_S, FakeRecorder, FakeTab, World, log_lines, make_board, ring, tab_of

LIMITS = Limits(tabs_per_user=3, tabs_per_address=4)


@pytest.fixture
def world(clock: FakeClock, recorder: FakeRecorder) -> World:
    return World(clock, recorder, make_board(clock, recorder, LIMITS))


async def open_tab(world: World, user: str, address: str = '192.0.2.1', tab_key: str | None = None) -> Device:
    board: Switchboard = world.board
    service = await world.service(user)
    return await board.attach(service, f'{user}-{len(board.devices)}', FakeTab(), tab_key, address)


async def test_a_user_past_the_bound_is_refused_and_the_open_tabs_stay(
    world: World, logs: pytest.LogCaptureFixture
) -> None:
    tabs = [await open_tab(world, 'alice', address=f'192.0.2.{n}') for n in range(3)]
    with pytest.raises(TooManyTabs, match=r'^You have 3 tabs and programs open, the most one person may have'):
        await open_tab(world, 'alice', address='192.0.2.9')
    assert all(world.board.holds(tab) for tab in tabs)
    bob = await world.tab('bob')
    call_id = await ring(bob, tabs[0])
    assert all(tab_of(tab).views_of(call_id) for tab in tabs)  # every one of them rings
    await tabs[0].detach()
    assert world.board.holds(await open_tab(world, 'alice'))  # a tab closed makes room
    refusals = [line for line in log_lines(logs) if 'Refused a tab' in line]
    assert refusals == ['⚠️ Refused a tab of alice: 3 tabs and programs open, the most one person may have at once']


async def test_an_address_past_the_bound_is_refused_whoever_signs_in(world: World) -> None:
    for user in ('alice', 'bob', 'carol', 'dave'):
        await open_tab(world, user)
    with pytest.raises(TooManyTabs, match='Too many tabs and programs are open from your network address'):
        await open_tab(world, 'erin')
    assert world.board.holds(await open_tab(world, 'erin', address='198.51.100.7'))  # another address is fine
    with pytest.raises(TooManyTabs):  # an IPv6 address counts by its /64
        for host in range(5):
            await open_tab(world, f'v6user{host}', address=f'2001:db8::{host + 1}')


async def test_a_reload_takes_the_place_of_its_old_document(world: World) -> None:
    first = await open_tab(world, 'alice', tab_key='tab-1')
    await open_tab(world, 'alice', tab_key='tab-2')
    await open_tab(world, 'alice', tab_key='tab-3')
    await first.set_connected(False)
    reloaded = await open_tab(world, 'alice', tab_key='tab-1')  # at the bound, and still allowed
    assert world.board.holds(reloaded) and not world.board.holds(first)


async def test_a_refused_tab_of_a_new_browser_leaves_no_session_behind(world: World, clock: FakeClock) -> None:
    for _ in range(3):
        await open_tab(world, 'alice')
    board: Switchboard = world.board
    service = await board.service_for('another-browser', 'alice', 'another-token')
    with pytest.raises(TooManyTabs):
        await board.attach(service, 'refused', FakeTab(), None, '192.0.2.1')
    await clock.advance(GRACE_S + 1)
    assert service.ended and ('another-browser', 'alice') not in board.services


async def test_the_bounds_are_settings(clock: FakeClock, recorder: FakeRecorder) -> None:
    world = World(clock, recorder, make_board(clock, recorder, Limits(tabs_per_user=1)))
    await open_tab(world, 'alice')
    with pytest.raises(TooManyTabs, match='You have 1 tabs'):
        await open_tab(world, 'alice')
    assert Limits().tabs_per_user == 40 and Limits().tabs_per_address == 200
