"""A reload is not a hang-up, and a blip is not the end of a call.

A reloaded tab's new document attaches with the same tab key while the old one is still attached: it takes over
the old document's calls (`ConnectionService.attach` → `CallManager.move_device`), with fresh legs so both browsers
negotiate new peer connections, while the call keeps its id, state and answer time. While a party's call tab has
lost its connection (`ConnectionService.set_connected` → `CallManager.set_away`) the peer sees it reconnecting.
"""

import pytest

from voiceconnect.calls import CallError, CallState, EndReason
from voiceconnect.connection import Device
from voiceconnect.events import CallChanged

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
def alice(world: World) -> Device:
    """alice's tab, with a tab key so that it can be reloaded."""
    return world.tab('alice', tab_key='alice-k')


@pytest.fixture
def bob(world: World) -> Device:
    """bob's tab, with a tab key so that it can be reloaded."""
    return world.tab('bob', tab_key='bob-k')


@pytest.fixture
def bob2(world: World, bob: Device) -> Device:
    """bob's second tab, in the same browser as his first."""
    return world.tab('bob', tab_key='bob-k2')


def drop(device: Device) -> None:
    """The tab's socket went away for now (network blip, reload in progress)."""
    device.service.set_connected(device.id, False)


def back(device: Device) -> None:
    device.service.set_connected(device.id, True)


def lines_with(logs: pytest.LogCaptureFixture, text: str) -> list[str]:
    return [line for line in log_lines(logs) if text in line]


# a reloaded caller tab


def test_caller_reload_while_ringing_moves_the_call_to_the_new_document(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = ring(alice, bob)
    new = world.reload(alice)
    call = world.call(call_id)
    assert call.caller_device == new.id
    assert (call.state, call.live) == (CallState.RINGING, True)
    assert world.hub.calls.get(call_id) is call


def test_caller_reload_while_ringing_renews_every_callee_leg(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    old_legs = {seen(bob, call_id).leg, seen(bob2, call_id).leg}
    world.reload(alice)
    new_legs = {seen(bob, call_id).leg, seen(bob2, call_id).leg}
    assert None not in new_legs
    assert len(new_legs) == 2
    assert not new_legs & old_legs
    assert set(world.call(call_id).legs) == new_legs
    assert world.call(call_id).legs == {seen(bob, call_id).leg: bob.id, seen(bob2, call_id).leg: bob2.id}


def test_callee_tabs_keep_ringing_with_their_new_legs_after_a_caller_reload(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    tab_of(bob).clear()
    tab_of(bob2).clear()
    world.reload(alice)
    for device in (bob, bob2):
        view = seen(device, call_id)
        assert view.ringing_here
        assert view.state == CallState.RINGING
        assert not view.peer_reconnecting


def test_a_callee_can_answer_after_the_caller_reloaded_while_ringing(world: World, alice: Device, bob: Device) -> None:
    call_id = ring(alice, bob)
    new = world.reload(alice)
    bob.accept(call_id)
    assert seen(new, call_id).state == CallState.CONNECTING
    assert seen(new, call_id).leg == seen(bob, call_id).leg


def test_the_new_caller_document_sees_the_call_here(world: World, alice: Device, bob: Device) -> None:
    call_id = ring(alice, bob)
    new = world.reload(alice)
    view = seen(new, call_id)
    assert (view.role, view.peer, view.here, view.state) == ('caller', 'bob', True, CallState.RINGING)
    assert new.call is not None
    assert new.call.here


def test_caller_reload_while_active_keeps_the_call_state_id_and_answer_time(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    answered_at = world.call(call_id).answered_at
    world.clock.advance(30)
    new = world.reload(alice)
    call = world.call(call_id)
    assert (call.id, call.state, call.answered_at) == (call_id, CallState.ACTIVE, answered_at)
    assert call.caller_device == new.id
    view = seen(new, call_id)
    assert (view.id, view.state, view.answered_at, view.here) == (call_id, CallState.ACTIVE, answered_at, True)


def test_caller_reload_while_active_renews_the_answered_leg(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    old_leg = world.call(call_id).answered_leg
    new = world.reload(alice)
    call = world.call(call_id)
    assert call.answered_leg not in (None, old_leg)
    assert call.callee_device == bob.id
    assert seen(bob, call_id).leg == call.answered_leg
    assert seen(bob, call_id).here
    assert seen(new, call_id).leg == call.answered_leg


def test_a_reload_clears_media_up(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    world.reload(alice)
    assert world.call(call_id).media_up == set()


def test_the_call_timer_continues_across_a_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    world.clock.advance(30)
    new = world.reload(alice)
    world.clock.advance(30)
    new.hang_up(call_id)
    assert world.call(call_id).end_reason == EndReason.COMPLETED
    assert world.call(call_id).duration(world.clock.now()) == pytest.approx(60)


def test_a_reload_while_connecting_stays_connecting_until_both_report_media(
    world: World, alice: Device, bob: Device
) -> None:
    call_id = answer(alice, bob)
    media_up(bob, call_id)
    new = world.reload(alice)
    assert world.call(call_id).state == CallState.CONNECTING
    media_up(new, call_id)
    assert world.call(call_id).state == CallState.CONNECTING  # bob's media_up was for the old peer connection
    media_up(bob, call_id)
    assert world.call(call_id).state == CallState.ACTIVE
    assert seen(new, call_id).state == CallState.ACTIVE


# a reloaded callee tab


def test_callee_reload_while_active_moves_the_answered_leg(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    answered_at = world.call(call_id).answered_at
    old_leg = world.call(call_id).answered_leg
    new = world.reload(bob)
    call = world.call(call_id)
    assert (call.state, call.answered_at) == (CallState.ACTIVE, answered_at)
    assert call.answered_leg not in (None, old_leg)
    assert old_leg not in call.legs
    assert call.callee_device == new.id
    assert call.media_up == set()


def test_callee_reload_while_active_both_sides_see_the_new_leg(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    new = world.reload(bob)
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


def test_callee_reload_while_ringing_renews_only_the_reloaded_tabs_leg(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    old_leg, other_leg = seen(bob, call_id).leg, seen(bob2, call_id).leg
    new = world.reload(bob)
    call = world.call(call_id)
    new_leg = seen(new, call_id).leg
    assert new_leg not in (None, old_leg, other_leg)
    assert call.legs == {new_leg: new.id, other_leg: bob2.id}
    assert seen(bob2, call_id).leg == other_leg
    assert call.state == CallState.RINGING


def test_callee_tab_reloaded_while_ringing_rings_again_and_can_answer(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    new = world.reload(bob)
    assert seen(new, call_id).ringing_here
    assert seen(bob2, call_id).ringing_here
    new.accept(call_id)
    assert world.call(call_id).callee_device == new.id
    assert seen(bob2, call_id).answered_elsewhere
    assert seen(alice, call_id).leg == seen(new, call_id).leg


def test_the_only_ringing_callee_tab_reloaded_keeps_the_call_ringing(world: World, alice: Device, bob: Device) -> None:
    call_id = ring(alice, bob)
    new = world.reload(bob)
    assert world.call(call_id).live
    assert list(world.call(call_id).legs.values()) == [new.id]
    assert seen(new, call_id).ringing_here


# what the reload does not do


def test_a_tab_with_another_tab_key_does_not_take_over(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    drop(alice)
    other = world.tab('alice', tab_key='another-k')
    call = world.call(call_id)
    assert call.caller_device == alice.id
    assert call.media_up == {alice.id, bob.id}
    assert 'alice' in call.away
    assert other.call is not None
    assert not other.call.here
    assert alice.id in world.hub.devices


def test_a_tab_without_tab_key_never_takes_over(world: World, bob: Device) -> None:
    keyless = world.tab('alice')
    call_id = talk(keyless, bob)
    drop(keyless)
    other = world.tab('alice')  # tab_key None on both
    assert world.call(call_id).caller_device == keyless.id
    assert keyless.id in keyless.service.devices
    assert other.call is not None
    assert not other.call.here


def test_the_same_tab_key_in_another_browser_does_not_take_over(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    elsewhere = world.tab('alice', browser='alice-phone', tab_key='alice-k')
    assert world.call(call_id).caller_device == alice.id
    assert elsewhere.call is not None
    assert not elsewhere.call.here


def test_a_reload_without_a_call_just_replaces_the_document(world: World, alice: Device, bob: Device) -> None:
    new = world.reload(alice)
    assert list(alice.service.devices) == [new.id]
    assert not world.live_calls()
    call_id = ring(new, bob)
    assert world.call(call_id).caller_device == new.id


# the old document


def test_the_old_document_is_out_of_service(world: World, alice: Device, bob: Device) -> None:
    talk(alice, bob)
    new = world.reload(alice)
    assert alice.id not in alice.service.devices
    assert alice.id not in world.hub.devices
    assert alice.id not in alice.service.connected
    assert alice.service.devices == {new.id: new}
    assert world.hub.devices[new.id] is new


def test_the_old_document_hears_nothing_after_the_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    world.reload(alice)
    tab_of(alice).clear()
    bob.hang_up(call_id)
    assert tab_of(alice).events == []
    assert tab_of(alice).relayed == []


def test_the_old_document_can_no_longer_act(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    world.reload(alice)
    with pytest.raises(CallError, match='signed out here'):
        alice.hang_up(call_id)
    assert world.call(call_id).live


def test_detaching_the_old_document_later_ends_nothing(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    new = world.reload(alice)
    tab_of(bob).clear()
    tab_of(new).clear()
    alice.service.detach(alice.id)  # NiceGUI deletes the old client some time after the reload
    call = world.call(call_id)
    assert (call.live, call.state, call.caller_device) == (True, CallState.ACTIVE, new.id)
    assert tab_of(bob).events == []
    assert tab_of(new).events == []
    assert alice.service.devices == {new.id: new}
    assert not lines_with(logs, 'Call ended')


def test_detaching_an_old_ringing_callee_document_later_ends_nothing(world: World, alice: Device, bob: Device) -> None:
    call_id = ring(alice, bob)
    new = world.reload(bob)
    bob.service.detach(bob.id)
    assert world.call(call_id).live
    assert list(world.call(call_id).legs.values()) == [new.id]


def test_the_user_stays_online_across_a_reload(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    world.reload(alice)
    alice.service.detach(alice.id)
    world.clock.advance(GRACE_S * 3)
    assert world.hub.is_online('alice')
    assert not alice.service.ended
    assert alice.service.grace_timer is None
    assert world.call(call_id).live
    assert not lines_with(logs, '👋 User disconnected')


def test_a_tab_can_be_reloaded_twice(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    first = world.reload(alice)
    leg = world.call(call_id).answered_leg
    second = world.reload(first)
    call = world.call(call_id)
    assert call.caller_device == second.id
    assert call.answered_leg not in (None, leg)
    assert alice.service.devices == {second.id: second}
    assert seen(second, call_id).here


# news of the reload


def test_the_reload_is_logged(world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device) -> None:
    talk(alice, bob)
    world.reload(alice)
    assert lines_with(logs, '🔄 Call resumed after a reload: alice in alice → bob')


def test_a_callee_reload_is_logged_with_the_callee(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    talk(alice, bob)
    world.reload(bob)
    assert lines_with(logs, '🔄 Call resumed after a reload: bob in alice → bob')


def test_call_changed_reaches_both_parties_on_a_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    tab_of(bob).clear()
    new = world.reload(alice)
    assert tab_of(bob).views_of(call_id)
    assert tab_of(new).views_of(call_id)
    assert seen(new, call_id).here


def test_a_reload_clears_away_and_the_peer_stops_seeing_reconnecting(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    drop(bob)
    assert seen(alice, call_id).peer_reconnecting
    world.reload(bob)
    assert 'bob' not in world.call(call_id).away
    assert not seen(alice, call_id).peer_reconnecting


def test_a_reload_keeps_the_peer_away_if_it_is(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    drop(bob)
    new = world.reload(alice)
    assert world.call(call_id).away == {'bob'}
    assert seen(new, call_id).peer_reconnecting


def test_a_reload_keeps_mute(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    alice.set_muted(call_id, True)
    new = world.reload(alice)
    assert seen(new, call_id).me_muted
    assert seen(bob, call_id).peer_muted


# signaling after the reload


def test_relays_go_to_the_reloaded_caller(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    tab_of(alice).clear()
    new = world.reload(alice)
    leg = seen(bob, call_id).leg
    assert leg is not None
    bob.signal(offer(call_id, leg))
    assert [m['kind'] for m in tab_of(new).relayed] == ['offer']
    assert tab_of(new).relayed[0]['leg'] == leg
    assert tab_of(alice).relayed == []
    new.signal(answer_signal(call_id, leg))
    assert [m['kind'] for m in tab_of(bob).relayed][-1] == 'answer'


def test_relays_go_to_the_reloaded_callee(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    tab_of(bob).clear()
    new = world.reload(bob)
    leg = seen(new, call_id).leg
    assert leg is not None
    new.signal(offer(call_id, leg))
    assert tab_of(alice).relayed[-1]['leg'] == leg
    alice.signal(answer_signal(call_id, leg))
    assert [m['kind'] for m in tab_of(new).relayed] == ['answer']
    assert tab_of(bob).relayed == []


def test_relays_go_to_a_callee_tab_reloaded_while_ringing(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    new = world.reload(bob)
    leg = seen(new, call_id).leg
    assert leg is not None
    new.signal(offer(call_id, leg))
    alice.signal(answer_signal(call_id, leg))
    assert [m['kind'] for m in tab_of(new).relayed] == ['answer']
    assert tab_of(bob).relayed == []
    assert tab_of(bob2).relayed == []


def test_the_old_leg_is_dead_after_a_reload(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    old_leg = seen(bob, call_id).leg
    assert old_leg is not None
    new = world.reload(alice)
    with pytest.raises(CallError, match='not yours'):
        bob.signal(offer(call_id, old_leg))
    with pytest.raises(CallError, match='Unknown leg'):
        new.signal(answer_signal(call_id, old_leg))


# a reload of a callee tab that is not in the call (answered elsewhere)


def test_reloading_a_tab_that_did_not_answer_leaves_the_call_alone(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    bob.accept(call_id)
    media_up(alice, call_id)
    world.reload(bob2)  # bob's other tab, which only showed "answered elsewhere"
    media_up(bob, call_id)
    assert world.call(call_id).state == CallState.ACTIVE  # instead: stays connecting ...
    world.clock.advance(MEDIA_TIMEOUT_S + 1)
    assert world.call(call_id).live  # ... and fails with "media never came up"


def test_reloading_a_tab_that_did_not_answer_keeps_the_callee_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    bob.accept(call_id)
    drop(bob)  # the tab carrying the call lost its connection
    world.reload(bob2)
    assert world.call(call_id).away == {'bob'}
    assert seen(alice, call_id).peer_reconnecting
    assert not lines_with(logs, 'Call resumed after a reload')


# a party's tab away for a moment


def test_caller_tab_disconnecting_marks_the_caller_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    drop(alice)
    assert world.call(call_id).away == {'alice'}
    assert lines_with(logs, '📶 alice reconnecting in call alice → bob')
    assert seen(bob, call_id).peer_reconnecting
    assert not seen(alice, call_id).peer_reconnecting  # alice's own view is about bob


def test_answering_callee_tab_disconnecting_marks_the_callee_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    drop(bob)
    assert world.call(call_id).away == {'bob'}
    assert lines_with(logs, '📶 bob reconnecting in call alice → bob')
    assert seen(alice, call_id).peer_reconnecting


def test_a_connecting_call_marks_the_answering_tab_away_too(world: World, alice: Device, bob: Device) -> None:
    call_id = answer(alice, bob)
    drop(bob)
    assert world.call(call_id).away == {'bob'}
    assert seen(alice, call_id).peer_reconnecting


def test_caller_tab_disconnecting_while_ringing_marks_the_caller_away(world: World, alice: Device, bob: Device) -> None:
    call_id = ring(alice, bob)
    drop(alice)
    assert world.call(call_id).away == {'alice'}
    assert seen(bob, call_id).peer_reconnecting
    assert seen(bob, call_id).ringing_here


def test_reconnecting_clears_away(world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    drop(bob)
    back(bob)
    assert world.call(call_id).away == set()
    assert lines_with(logs, '📶 bob reconnected in call alice → bob')
    assert not seen(alice, call_id).peer_reconnecting


def test_reconnected_says_how_long_the_tab_was_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    talk(alice, bob)
    drop(bob)
    world.clock.advance(7.25)
    back(bob)
    assert lines_with(logs, '📶 bob reconnected in call alice → bob after 7.2s')


def test_a_resumed_call_says_how_long_the_reloaded_tab_was_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    talk(alice, bob)
    alice.service.set_connected(alice.id, False)  # the reload begins: the old document's socket drops
    world.clock.advance(1.5)
    alice.service.attach('alice-reloaded', FakeTab(), tab_key=alice.tab_key)
    assert lines_with(logs, '🔄 Call resumed after a reload: alice in alice → bob (away 1.5s)')


def test_both_parties_can_be_away_at_once(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    drop(alice)
    drop(bob)
    assert world.call(call_id).away == {'alice', 'bob'}
    back(alice)
    assert world.call(call_id).away == {'bob'}
    assert seen(alice, call_id).peer_reconnecting
    assert not seen(bob, call_id).peer_reconnecting


def test_a_ringing_callee_tab_disconnecting_marks_nobody_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    for device in (alice, bob, bob2):
        tab_of(device).clear()
    drop(bob)
    assert world.call(call_id).away == set()
    assert not lines_with(logs, '📶')
    assert all(tab_of(device).views == [] for device in (alice, bob, bob2))


def test_a_tab_that_did_not_answer_disconnecting_marks_nobody_away(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    bob.accept(call_id)
    tab_of(alice).clear()
    drop(bob2)
    assert world.call(call_id).away == set()
    assert tab_of(alice).views == []


def test_another_tab_of_a_party_disconnecting_marks_nobody_away(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    call_id = talk(alice, bob)
    alice_other = world.tab('alice', tab_key='alice-other')
    tab_of(bob).clear()
    drop(alice_other)
    back(alice_other)
    assert world.call(call_id).away == set()
    assert tab_of(bob).views == []
    assert not lines_with(logs, '📶')


def test_a_tab_of_someone_else_disconnecting_marks_nobody_away(
    world: World, alice: Device, bob: Device, carol: Device
) -> None:
    call_id = talk(alice, bob)
    drop(carol)
    assert world.call(call_id).away == set()


def test_repeated_disconnects_send_nothing_new(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    talk(alice, bob)
    drop(bob)
    tab_of(alice).clear()
    tab_of(bob).clear()
    drop(bob)
    drop(bob)
    assert tab_of(alice).views == []
    assert tab_of(bob).views == []
    assert len(lines_with(logs, '📶 bob reconnecting')) == 1


def test_a_connect_of_a_tab_that_never_left_sends_nothing(
    world: World, logs: pytest.LogCaptureFixture, alice: Device, bob: Device
) -> None:
    talk(alice, bob)
    tab_of(alice).clear()
    tab_of(bob).clear()
    back(alice)
    back(bob)
    assert tab_of(alice).views == []
    assert tab_of(bob).views == []
    assert not lines_with(logs, '📶')


def test_away_sends_one_call_changed_to_each_tab_of_both_parties(
    world: World, alice: Device, bob: Device, bob2: Device
) -> None:
    call_id = ring(alice, bob)
    bob.accept(call_id)
    for device in (alice, bob, bob2):
        tab_of(device).clear()
    drop(alice)
    for device in (alice, bob, bob2):
        assert [type(event) for event in tab_of(device).events if isinstance(event, CallChanged)] == [CallChanged]


def test_an_away_caller_who_does_not_come_back_loses_the_call(world: World, alice: Device, bob: Device) -> None:
    call_id = talk(alice, bob)
    drop(alice)
    world.clock.advance(GRACE_S + 1)
    assert seen(bob, call_id).end_reason == EndReason.CONNECTION_LOST
