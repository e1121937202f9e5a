"""A reload is not a hang-up, and a blip is not the end of a call.

A reloaded tab's new document attaches with the same tab key while the old one is still attached: it takes over
the old document's calls (`ConnectionService.attach` → `CallManager.move_device`), with fresh legs so both browsers
negotiate new peer connections, while the call keeps its id, state and answer time. While a party's call tab has
lost its connection (`ConnectionService.set_connected` → `CallManager.set_away`) the peer sees it reconnecting.
"""

import pytest

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import CallChanged

from .helpers import (
    GRACE_S,
    MEDIA_TIMEOUT_S,
    FakeTab,
    World,
    answer,
    answer_signal,
    log_lines,
    media_up,
    offer,
    ring,
    seen,
    tab_of,
    talk,
)


@pytest.fixture
async def alice(world: World) -> Device:
    """alice's tab, with a tab key so that it can be reloaded."""
    return await world.tab('alice', tab_key='alice-k')


@pytest.fixture
async def bob(world: World) -> Device:
    """bob's tab, with a tab key so that it can be reloaded."""
    return await world.tab('bob', tab_key='bob-k')


@pytest.fixture
async def bob2(world: World, bob: Device) -> Device:
    """bob's second tab, in the same browser as his first."""
    return await world.tab('bob', tab_key='bob-k2')


async def drop(device: Device) -> None:
    """The tab's socket went away for now (network blip, reload in progress)."""
    await device.set_connected(False)


async def back(device: Device) -> None:
    await device.set_connected(True)


def lines_with(logs: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [line for line in log_lines(logs) if text in line]


# a reloaded caller tab


async def test_caller_reload_while_ringing_moves_the_call_to_the_new_document(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(alice)
    call = world.call(call_id)
    assert call.caller_device == new.id
    assert (call.state, call.live) == (CallState.RINGING, True)
    assert world.calls.get(call_id) is call


async def test_caller_reload_while_ringing_renews_every_callee_leg(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    old_legs = {seen(bob, call_id).leg, seen(bob2, call_id).leg}
    await world.reload(alice)
    new_legs = {seen(bob, call_id).leg, seen(bob2, call_id).leg}
    assert None not in new_legs
    assert len(new_legs) == 2
    assert not new_legs & old_legs
    assert set(world.call(call_id).legs) == new_legs
    assert world.call(call_id).legs == {seen(bob, call_id).leg: bob.id, seen(bob2, call_id).leg: bob2.id}


async def test_callee_tabs_keep_ringing_with_their_new_legs_after_a_caller_reload(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    tab_of(bob).clear()
    tab_of(bob2).clear()
    await world.reload(alice)
    for device in (bob, bob2):
        view = seen(device, call_id)
        assert view.ringing_here
        assert view.state == CallState.RINGING
        assert not view.peer_reconnecting


async def test_a_callee_can_answer_after_the_caller_reloaded_while_ringing(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(alice)
    await bob.accept(call_id)
    assert seen(new, call_id).state == CallState.CONNECTING
    assert seen(new, call_id).leg == seen(bob, call_id).leg


async def test_the_new_caller_document_sees_the_call_here(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(alice)
    view = seen(new, call_id)
    assert (view.role, view.peer, view.here, view.state) == ('caller', 'bob', True, CallState.RINGING)
    assert new.call is not None
    assert new.call.here


async def test_caller_reload_while_active_keeps_the_call_state_id_and_answer_time(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    answered_at = world.call(call_id).answered_at
    await world.clock.advance(30)
    new = await world.reload(alice)
    call = world.call(call_id)
    assert (call.id, call.state, call.answered_at) == (call_id, CallState.ACTIVE, answered_at)
    assert call.caller_device == new.id
    view = seen(new, call_id)
    assert (view.id, view.state, view.answered_at, view.here) == (call_id, CallState.ACTIVE, answered_at, True)


async def test_caller_reload_while_active_renews_the_answered_leg(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    old_leg = world.call(call_id).answered_leg
    new = await world.reload(alice)
    call = world.call(call_id)
    assert call.answered_leg not in (None, old_leg)
    assert call.callee_device == bob.id
    assert seen(bob, call_id).leg == call.answered_leg
    assert seen(bob, call_id).here
    assert seen(new, call_id).leg == call.answered_leg


async def test_a_reload_clears_media_up(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.reload(alice)
    assert world.call(call_id).media_up == set()


async def test_the_call_timer_continues_across_a_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.clock.advance(30)
    new = await world.reload(alice)
    await world.clock.advance(30)
    await new.hang_up(call_id)
    assert world.call(call_id).end_reason == EndReason.COMPLETED
    assert world.call(call_id).duration(world.clock.now()) == pytest.approx(60)


async def test_a_reload_while_connecting_stays_connecting_until_both_report_media(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await answer(alice, bob)
    await media_up(bob, call_id)
    new = await world.reload(alice)
    assert world.call(call_id).state == CallState.CONNECTING
    await media_up(new, call_id)
    assert world.call(call_id).state == CallState.CONNECTING  # bob's media_up was for the old peer connection
    await media_up(bob, call_id)
    assert world.call(call_id).state == CallState.ACTIVE
    assert seen(new, call_id).state == CallState.ACTIVE


# a reloaded callee tab


async def test_callee_reload_while_active_moves_the_answered_leg(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    answered_at = world.call(call_id).answered_at
    old_leg = world.call(call_id).answered_leg
    new = await world.reload(bob)
    call = world.call(call_id)
    assert (call.state, call.answered_at) == (CallState.ACTIVE, answered_at)
    assert call.answered_leg not in (None, old_leg)
    assert old_leg not in call.legs
    assert call.callee_device == new.id
    assert call.media_up == set()


async def test_callee_reload_while_active_both_sides_see_the_new_leg(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    new = await world.reload(bob)
    leg = world.call(call_id).answered_leg
    mine = seen(new, call_id)
    assert (mine.role, mine.here, mine.leg, mine.state, mine.answered_elsewhere) == (
        'callee',
        True,
        leg,
        CallState.ACTIVE,
        False,
    )
    assert seen(alice, call_id).leg == leg


async def test_callee_reload_while_ringing_renews_only_the_reloaded_tabs_leg(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    old_leg, other_leg = seen(bob, call_id).leg, seen(bob2, call_id).leg
    new = await world.reload(bob)
    call = world.call(call_id)
    new_leg = seen(new, call_id).leg
    assert new_leg not in (None, old_leg, other_leg)
    assert call.legs == {new_leg: new.id, other_leg: bob2.id}
    assert seen(bob2, call_id).leg == other_leg
    assert call.state == CallState.RINGING


async def test_callee_tab_reloaded_while_ringing_rings_again_and_can_answer(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(bob)
    assert seen(new, call_id).ringing_here
    assert seen(bob2, call_id).ringing_here
    await new.accept(call_id)
    assert world.call(call_id).callee_device == new.id
    assert seen(bob2, call_id).answered_elsewhere
    assert seen(alice, call_id).leg == seen(new, call_id).leg


async def test_the_only_ringing_callee_tab_reloaded_keeps_the_call_ringing(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(bob)
    assert world.call(call_id).live
    assert list(world.call(call_id).legs.values()) == [new.id]
    assert seen(new, call_id).ringing_here


# what the reload does not do


async def test_a_tab_with_another_tab_key_does_not_take_over(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await drop(alice)
    other = await world.tab('alice', tab_key='another-k')
    call = world.call(call_id)
    assert call.caller_device == alice.id
    assert call.media_up == {alice.id, bob.id}
    assert 'alice' in call.away
    assert other.call is not None
    assert not other.call.here
    assert alice.id in world.board.devices


async def test_a_tab_without_tab_key_never_takes_over(world: World, bob: Device) -> None:
    keyless = await world.tab('alice')
    call_id = await talk(keyless, bob)
    await drop(keyless)
    other = await world.tab('alice')  # tab_key None on both
    assert world.call(call_id).caller_device == keyless.id
    assert keyless.id in world.service_of(keyless).tabs
    assert other.call is not None
    assert not other.call.here


async def test_the_same_tab_key_in_another_browser_does_not_take_over(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    elsewhere = await world.tab('alice', browser='alice-phone', tab_key='alice-k')
    assert world.call(call_id).caller_device == alice.id
    assert elsewhere.call is not None
    assert not elsewhere.call.here


async def test_a_reload_without_a_call_just_replaces_the_document(world: World, alice: Device, bob: Device) -> None:
    new = await world.reload(alice)
    assert list(world.service_of(alice).tabs) == [new.id]
    assert not world.live_calls()
    call_id = await ring(new, bob)
    assert world.call(call_id).caller_device == new.id


# the old document


async def test_the_old_document_is_out_of_service(world: World, alice: Device, bob: Device) -> None:
    await talk(alice, bob)
    new = await world.reload(alice)
    assert alice.id not in world.service_of(alice).tabs
    assert alice.id not in world.board.devices
    assert alice.id not in world.service_of(alice).connected
    assert list(world.service_of(alice).tabs) == [new.id]
    assert world.board.devices[new.id] is new


async def test_the_old_document_hears_nothing_after_the_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.reload(alice)
    tab_of(alice).clear()
    await bob.hang_up(call_id)
    assert tab_of(alice).events == []
    assert tab_of(alice).relayed == []


async def test_the_old_document_can_no_longer_act(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.reload(alice)
    with pytest.raises(CallError, match='signed out here'):
        await alice.hang_up(call_id)
    assert world.call(call_id).live


async def test_detaching_the_old_document_later_ends_nothing(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    new = await world.reload(alice)
    tab_of(bob).clear()
    tab_of(new).clear()
    await alice.detach()  # NiceGUI deletes the old client some time after the reload
    call = world.call(call_id)
    assert (call.live, call.state, call.caller_device) == (True, CallState.ACTIVE, new.id)
    assert tab_of(bob).events == []
    assert tab_of(new).events == []
    assert list(world.service_of(alice).tabs) == [new.id]
    assert not lines_with(logs, 'Call ended')


async def test_detaching_an_old_ringing_callee_document_later_ends_nothing(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(bob)
    await bob.detach()
    assert world.call(call_id).live
    assert list(world.call(call_id).legs.values()) == [new.id]


async def test_the_user_stays_online_across_a_reload(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await world.reload(alice)
    await alice.detach()
    await world.clock.advance(GRACE_S * 3)
    assert world.hub.is_online('alice')
    assert not world.service_of(alice).ended
    assert not world.service_of(alice).grace_running
    assert world.call(call_id).live
    assert not lines_with(logs, '👋 User disconnected')


async def test_a_tab_can_be_reloaded_twice(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    first = await world.reload(alice)
    leg = world.call(call_id).answered_leg
    second = await world.reload(first)
    call = world.call(call_id)
    assert call.caller_device == second.id
    assert call.answered_leg not in (None, leg)
    assert list(world.service_of(alice).tabs) == [second.id]
    assert seen(second, call_id).here


# news of the reload


async def test_the_reload_is_logged(world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device) -> None:
    await talk(alice, bob)
    await world.reload(alice)
    assert lines_with(logs, '🔄 Call resumed after a reload: alice in alice → bob')


async def test_a_callee_reload_is_logged_with_the_callee(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    await talk(alice, bob)
    await world.reload(bob)
    assert lines_with(logs, '🔄 Call resumed after a reload: bob in alice → bob')


async def test_call_changed_reaches_both_parties_on_a_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    tab_of(bob).clear()
    new = await world.reload(alice)
    assert tab_of(bob).views_of(call_id)
    assert tab_of(new).views_of(call_id)
    assert seen(new, call_id).here


async def test_a_reload_clears_away_and_the_peer_stops_seeing_reconnecting(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await drop(bob)
    assert seen(alice, call_id).peer_reconnecting
    await world.reload(bob)
    assert 'bob' not in world.call(call_id).away
    assert not seen(alice, call_id).peer_reconnecting


async def test_a_reload_keeps_the_peer_away_if_it_is(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await drop(bob)
    new = await world.reload(alice)
    assert world.call(call_id).away == {'bob'}
    assert seen(new, call_id).peer_reconnecting


async def test_a_reload_keeps_mute(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await alice.set_muted(call_id, True)
    new = await world.reload(alice)
    assert seen(new, call_id).me_muted
    assert seen(bob, call_id).peer_muted


# signaling after the reload


async def test_relays_go_to_the_reloaded_caller(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    tab_of(alice).clear()
    new = await world.reload(alice)
    leg = seen(bob, call_id).leg
    assert leg is not None
    await bob.signal(offer(call_id, leg))
    assert [m['kind'] for m in tab_of(new).relayed] == ['offer']
    assert tab_of(new).relayed[0]['leg'] == leg
    assert tab_of(alice).relayed == []
    await new.signal(answer_signal(call_id, leg))
    assert [m['kind'] for m in tab_of(bob).relayed][-1] == 'answer'


async def test_relays_go_to_the_reloaded_callee(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    tab_of(bob).clear()
    new = await world.reload(bob)
    leg = seen(new, call_id).leg
    assert leg is not None
    await new.signal(offer(call_id, leg))
    assert tab_of(alice).relayed[-1]['leg'] == leg
    await alice.signal(answer_signal(call_id, leg))
    assert [m['kind'] for m in tab_of(new).relayed] == ['answer']
    assert tab_of(bob).relayed == []


async def test_relays_go_to_a_callee_tab_reloaded_while_ringing(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    new = await world.reload(bob)
    leg = seen(new, call_id).leg
    assert leg is not None
    await new.signal(offer(call_id, leg))
    await alice.signal(answer_signal(call_id, leg))
    assert [m['kind'] for m in tab_of(new).relayed] == ['answer']
    assert tab_of(bob).relayed == []
    assert tab_of(bob2).relayed == []


async def test_the_old_leg_is_dead_after_a_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    old_leg = seen(bob, call_id).leg
    assert old_leg is not None
    new = await world.reload(alice)
    with pytest.raises(CallError, match='not yours'):
        await bob.signal(offer(call_id, old_leg))
    with pytest.raises(CallError, match='Unknown leg'):
        await new.signal(answer_signal(call_id, old_leg))


# a reload of a callee tab that is not in the call (answered elsewhere)


async def test_reloading_a_tab_that_did_not_answer_leaves_the_call_alone(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    await media_up(alice, call_id)
    await world.reload(bob2)  # bob's other tab, which only showed "answered elsewhere"
    await media_up(bob, call_id)
    assert world.call(call_id).state == CallState.ACTIVE  # instead: stays connecting ...
    await world.clock.advance(MEDIA_TIMEOUT_S + 1)
    assert world.call(call_id).live  # ... and fails with "media never came up"


async def test_reloading_a_tab_that_did_not_answer_keeps_the_callee_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    await drop(bob)  # the tab carrying the call lost its connection
    await world.reload(bob2)
    assert world.call(call_id).away == {'bob'}
    assert seen(alice, call_id).peer_reconnecting
    assert not lines_with(logs, 'Call resumed after a reload')


# a party's tab away for a moment


async def test_caller_tab_disconnecting_marks_the_caller_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await drop(alice)
    assert world.call(call_id).away == {'alice'}
    assert lines_with(logs, '📶 alice reconnecting in call alice → bob')
    assert seen(bob, call_id).peer_reconnecting
    assert not seen(alice, call_id).peer_reconnecting  # alice's own view is about bob


async def test_answering_callee_tab_disconnecting_marks_the_callee_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await drop(bob)
    assert world.call(call_id).away == {'bob'}
    assert lines_with(logs, '📶 bob reconnecting in call alice → bob')
    assert seen(alice, call_id).peer_reconnecting


async def test_a_connecting_call_marks_the_answering_tab_away_too(world: World, alice: Device, bob: Device) -> None:
    call_id = await answer(alice, bob)
    await drop(bob)
    assert world.call(call_id).away == {'bob'}
    assert seen(alice, call_id).peer_reconnecting


async def test_caller_tab_disconnecting_while_ringing_marks_the_caller_away(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = await ring(alice, bob)
    await drop(alice)
    assert world.call(call_id).away == {'alice'}
    assert seen(bob, call_id).peer_reconnecting
    assert seen(bob, call_id).ringing_here


async def test_reconnecting_clears_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    await drop(bob)
    await back(bob)
    assert world.call(call_id).away == set()
    assert lines_with(logs, '📶 bob reconnected in call alice → bob')
    assert not seen(alice, call_id).peer_reconnecting


async def test_reconnected_says_how_long_the_tab_was_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    await talk(alice, bob)
    await drop(bob)
    await world.clock.advance(7.25)
    await back(bob)
    assert lines_with(logs, '📶 bob reconnected in call alice → bob after 7.2s')


async def test_a_resumed_call_says_how_long_the_reloaded_tab_was_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    await talk(alice, bob)
    await alice.set_connected(False)  # the reload begins: the old document's socket drops
    await world.clock.advance(1.5)
    await world.board.attach(world.service_of(alice), 'alice-reloaded', FakeTab(), alice.tab_key)
    assert lines_with(logs, '🔄 Call resumed after a reload: alice in alice → bob (away 1.5s)')


async def test_both_parties_can_be_away_at_once(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await drop(alice)
    await drop(bob)
    assert world.call(call_id).away == {'alice', 'bob'}
    await back(alice)
    assert world.call(call_id).away == {'bob'}
    assert seen(alice, call_id).peer_reconnecting
    assert not seen(bob, call_id).peer_reconnecting


async def test_a_ringing_callee_tab_disconnecting_marks_nobody_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    for device in (alice, bob, bob2):
        tab_of(device).clear()
    await drop(bob)
    assert world.call(call_id).away == set()
    assert not lines_with(logs, '📶')
    assert all(tab_of(device).views == [] for device in (alice, bob, bob2))


async def test_a_tab_that_did_not_answer_disconnecting_marks_nobody_away(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    tab_of(alice).clear()
    await drop(bob2)
    assert world.call(call_id).away == set()
    assert tab_of(alice).views == []


async def test_another_tab_of_a_party_disconnecting_marks_nobody_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = await talk(alice, bob)
    alice_other = await world.tab('alice', tab_key='alice-other')
    tab_of(bob).clear()
    await drop(alice_other)
    await back(alice_other)
    assert world.call(call_id).away == set()
    assert tab_of(bob).views == []
    assert not lines_with(logs, '📶')


async def test_a_tab_of_someone_else_disconnecting_marks_nobody_away(
    world: World, alice: Device, bob: Device, carol: Device
) -> None:
    call_id = await talk(alice, bob)
    await drop(carol)
    assert world.call(call_id).away == set()


async def test_repeated_disconnects_send_nothing_new(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    await talk(alice, bob)
    await drop(bob)
    tab_of(alice).clear()
    tab_of(bob).clear()
    await drop(bob)
    await drop(bob)
    assert tab_of(alice).views == []
    assert tab_of(bob).views == []
    assert len(lines_with(logs, '📶 bob reconnecting')) == 1


async def test_a_connect_of_a_tab_that_never_left_sends_nothing(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    await talk(alice, bob)
    tab_of(alice).clear()
    tab_of(bob).clear()
    await back(alice)
    await back(bob)
    assert tab_of(alice).views == []
    assert tab_of(bob).views == []
    assert not lines_with(logs, '📶')


async def test_away_sends_one_call_changed_to_each_tab_of_both_parties(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = await ring(alice, bob)
    await bob.accept(call_id)
    for device in (alice, bob, bob2):
        tab_of(device).clear()
    await drop(alice)
    for device in (alice, bob, bob2):
        assert [type(event) for event in tab_of(device).events if isinstance(event, CallChanged)] == [CallChanged]


async def test_an_away_caller_who_does_not_come_back_loses_the_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await drop(alice)
    await world.clock.advance(GRACE_S + 1)
    assert seen(bob, call_id).end_reason == EndReason.CONNECTION_LOST
    # the ended call says on which side it was lost (`connection lost: alice went away`, `…: you went away`)
    assert seen(bob, call_id).peer_reconnecting
    assert not seen(bob, call_id).me_away
