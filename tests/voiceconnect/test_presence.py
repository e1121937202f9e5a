"""Who is online: the connection service, the reconnect grace period, logout, 'In a call', and the log lines."""

import pytest

from voiceconnect.calls.machine import CallState, EndReason
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import OnlineUser, PresenceChanged, SignedOut

from .helpers import GRACE_S, RING_TIMEOUT_S, World, answer, log_lines, ring, seen, tab_of, talk


async def drop(device: Device) -> None:
    """The tab's socket went away (network blip, reload in progress); the tab itself is not gone."""
    await device.set_connected(False)


async def back(device: Device) -> None:
    await device.set_connected(True)


def names(device: Device) -> list[str]:
    """Who a page built now on this tab would list as online."""
    return [user.name for user in device.online_users()]


# online while a service exists


async def test_signing_in_makes_a_user_online(world: World) -> None:
    await world.service('alice')
    assert world.hub.is_online('alice')


async def test_nobody_is_online_at_first(world: World) -> None:
    assert world.hub.online_users() == ()


async def test_other_users_tabs_hear_who_came_online(alice: Device, bob: Device) -> None:
    assert tab_of(alice).online_names == ['bob']


async def test_presence_lists_exclude_the_tabs_own_user(alice: Device, bob: Device, carol: Device) -> None:
    assert tab_of(alice).online_names == ['bob', 'carol']
    assert tab_of(bob).online_names == ['alice', 'carol']
    assert names(carol) == ['alice', 'bob']


async def test_a_new_tab_asks_for_the_current_list(world: World, alice: Device, bob: Device) -> None:
    late = await world.tab('bob')  # a tab attaches to an existing service: it reads the list, nothing is pushed
    assert names(late) == ['alice']


async def test_a_disconnected_user_stays_online_during_the_grace_period(
    world: World, alice: Device, bob: Device
) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S - 0.1)
    assert world.hub.is_online('alice')
    assert names(bob) == ['alice']


async def test_a_disconnected_user_goes_offline_when_the_grace_period_ends(
    world: World, alice: Device, bob: Device
) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S + 0.1)
    assert not world.hub.is_online('alice')
    assert tab_of(bob).online_names == []


async def test_grace_expiry_tells_the_users_tabs_they_are_signed_out(world: World, alice: Device) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S + 0.1)
    assert tab_of(alice).signed_out == [SignedOut('expired')]


async def test_grace_expiry_signs_out_every_tab_of_that_browser(world: World, alice: Device) -> None:
    alice2 = await world.tab('alice')
    await drop(alice)
    await drop(alice2)
    await world.clock.advance(GRACE_S + 0.1)
    assert tab_of(alice2).signed_out == [SignedOut('expired')]


async def test_reconnecting_within_grace_cancels_the_expiry(world: World, alice: Device, bob: Device) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S - 1)
    await back(alice)
    await world.clock.advance(GRACE_S * 10)
    assert world.hub.is_online('alice')
    assert tab_of(alice).signed_out == []


async def test_each_disconnect_gets_a_full_grace_period(world: World, alice: Device) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S - 1)
    await back(alice)
    await drop(alice)
    await world.clock.advance(GRACE_S - 1)
    assert world.hub.is_online('alice')


async def test_one_connected_tab_keeps_the_user_online(world: World, alice: Device) -> None:
    await world.tab('alice')
    await drop(alice)
    await world.clock.advance(GRACE_S * 10)
    assert world.hub.is_online('alice')


async def test_closing_the_last_tab_starts_the_grace_period(world: World, alice: Device) -> None:
    await alice.detach()
    await world.clock.advance(GRACE_S - 1)
    assert world.hub.is_online('alice')
    await world.clock.advance(2)
    assert not world.hub.is_online('alice')


async def test_a_tab_opened_within_grace_keeps_the_user(world: World, alice: Device) -> None:
    await alice.detach()  # e.g. a full reload: the old document is gone ...
    await world.clock.advance(5)
    await world.tab('alice')  # ... and the new one attaches to the same service
    await world.clock.advance(GRACE_S * 2)
    assert world.hub.is_online('alice')


async def test_a_user_on_two_browsers_stays_online_until_both_expire(world: World, alice: Device) -> None:
    phone = await world.tab('alice', browser='alice-phone')
    await drop(alice)
    await world.clock.advance(GRACE_S + 1)
    assert world.hub.is_online('alice')
    await drop(phone)
    await world.clock.advance(GRACE_S + 1)
    assert not world.hub.is_online('alice')


async def test_signing_in_again_on_the_same_browser_keeps_the_service(world: World, alice: Device) -> None:
    service = await world.board.service_for('alice-browser', 'alice', 'a-fresh-token')
    assert service is world.service_of(alice)
    assert service.token == 'a-fresh-token'


# logout


async def test_logout_takes_the_user_offline_at_once(world: World, alice: Device, bob: Device) -> None:
    await world.board.end(world.service_of(alice), 'logout')
    assert not world.hub.is_online('alice')
    assert tab_of(bob).online_names == []
    assert tab_of(alice).signed_out == [SignedOut('logout')]


async def test_logging_out_a_session_ends_every_tab_that_used_it_under_any_browser_id(
    world: World, bob: Device
) -> None:
    """Log out gives the browser a new id; its older tabs keep the one they had, with the same session."""
    old_tab = await world.attach(await world.board.service_for('browser-id-1', 'alice', 'alice-session'))
    new_tab = await world.attach(await world.board.service_for('browser-id-2', 'alice', 'alice-session'))
    other = await world.attach(await world.board.service_for('elsewhere', 'alice', 'another-session'))
    await world.board.log_out_session('alice-session')
    assert tab_of(old_tab).signed_out == tab_of(new_tab).signed_out == [SignedOut('logout')]
    assert tab_of(other).signed_out == []  # alice's session on another browser goes on
    assert world.hub.is_online('alice')


async def test_logout_ends_the_users_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.board.end(world.service_of(alice), 'logout')
    assert seen(bob, call_id).state == CallState.ENDED
    assert bob.call is None


async def test_logout_while_talking_completes_the_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await talk(alice, bob)
    await world.clock.advance(30)
    await world.board.end(world.service_of(bob), 'logout')
    assert seen(alice, call_id).end_reason == EndReason.COMPLETED
    assert seen(alice, call_id).duration(world.clock.now()) == 30


async def test_caller_logging_out_while_ringing_cancels_the_call(world: World, alice: Device, bob: Device) -> None:
    call_id = await ring(alice, bob)
    await world.board.end(world.service_of(alice), 'logout')
    assert seen(bob, call_id).end_reason == EndReason.CANCELLED
    assert not seen(bob, call_id).ringing_here


async def test_logout_stops_the_grace_timer(world: World, alice: Device) -> None:
    await drop(alice)
    await world.board.end(world.service_of(alice), 'logout')
    await world.clock.advance(GRACE_S * 2)
    assert tab_of(alice).signed_out == [SignedOut('logout')]


async def test_logging_out_twice_is_harmless(world: World, alice: Device, bob: Device) -> None:
    await world.board.end(world.service_of(alice), 'logout')
    await world.board.end(world.service_of(alice), 'logout')
    assert tab_of(alice).signed_out == [SignedOut('logout')]


async def test_logout_on_one_browser_keeps_the_user_online_on_another(world: World, alice: Device, bob: Device) -> None:
    phone = await world.tab('alice', browser='alice-phone')
    await world.board.end(world.service_of(alice), 'logout')
    assert world.hub.is_online('alice')
    assert names(bob) == ['alice']
    assert tab_of(phone).signed_out == []


async def test_after_logout_a_call_to_the_user_rings_nowhere(world: World, alice: Device, bob: Device) -> None:
    from voiceconnect.calls.machine import EndReason

    await world.board.end(world.service_of(bob), 'logout')
    tab_of(bob).clear()
    assert (await alice.call_user('bob')).end_reason == EndReason.OFFLINE
    assert tab_of(bob).views == []


async def test_signing_in_after_logout_brings_the_user_back(world: World, alice: Device, bob: Device) -> None:
    await world.board.end(world.service_of(bob), 'logout')
    await world.tab('bob')
    assert tab_of(alice).online_names == ['bob']


# 'In a call'


def in_call(device: Device) -> dict[str, bool]:
    return {user.name: user.in_call for user in tab_of(device).presence}


async def test_both_parties_are_shown_in_a_call_once_it_starts(alice: Device, bob: Device, carol: Device) -> None:
    await ring(alice, bob)
    assert in_call(carol) == {'alice': True, 'bob': True}


async def test_parties_are_shown_free_again_when_the_call_ends(alice: Device, bob: Device, carol: Device) -> None:
    call_id = await talk(alice, bob)
    await alice.hang_up(call_id)
    assert in_call(carol) == {'alice': False, 'bob': False}


async def test_the_peer_sees_the_other_party_in_a_call(alice: Device, bob: Device) -> None:
    await answer(alice, bob)
    assert in_call(alice) == {'bob': True}


async def test_a_call_starting_and_ending_publishes_presence_to_others(
    alice: Device, bob: Device, carol: Device
) -> None:
    def updates() -> int:
        return sum(isinstance(event, PresenceChanged) for event in tab_of(carol).events)

    before = updates()
    call_id = await ring(alice, bob)
    assert updates() == before + 1
    await alice.hang_up(call_id)
    assert updates() == before + 2


async def test_a_missed_call_frees_both_parties(world: World, alice: Device, bob: Device, carol: Device) -> None:
    await ring(alice, bob)
    await world.clock.advance(RING_TIMEOUT_S + 1)
    assert in_call(carol) == {'alice': False, 'bob': False}


async def test_page_authors_can_ask_who_is_online_and_in_a_call(alice: Device, bob: Device, carol: Device) -> None:
    await talk(alice, bob)
    assert carol.online_users() == (OnlineUser('alice', True), OnlineUser('bob', True))


async def test_state_changes_within_a_call_publish_no_presence(alice: Device, bob: Device, carol: Device) -> None:
    call_id = await ring(alice, bob)
    before = len(tab_of(carol).events)
    await bob.accept(call_id)
    assert len(tab_of(carol).events) == before


# events API for page authors


async def test_subscribers_hear_call_changes_until_they_unsubscribe(alice: Device, bob: Device) -> None:
    from voiceconnect.connections.events import CallChanged

    heard: list[CallChanged] = []
    unsubscribe = bob.on(CallChanged, heard.append)
    call_id = await ring(alice, bob)
    assert [event.call.id for event in heard] == [call_id]
    unsubscribe()
    await alice.hang_up(call_id)
    assert len(heard) == 1


# log lines (DESIGN.md's contract)


async def test_sign_in_logs_connected_and_joined(world: World, logs: pytest.LogCaptureFixture) -> None:
    await world.tab('alice')
    assert log_lines(logs) == ['👤 User connected: alice', '📞 User joined: alice']


async def test_a_second_browser_logs_connected_but_not_joined(
    world: World, alice: Device, logs: pytest.LogCaptureFixture
) -> None:
    before = len(log_lines(logs))
    await world.tab('alice', browser='alice-phone')
    assert log_lines(logs)[before:] == ['👤 User connected: alice']


async def test_a_call_logs_initiated_answered_and_ended_with_seconds(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture
) -> None:
    call_id = await ring(alice, bob)
    await world.clock.advance(3)
    await bob.accept(call_id)
    await world.clock.advance(12)
    await alice.hang_up(call_id)
    lines = log_lines(logs)
    assert '📞 Call initiated: alice → bob' in lines
    assert '✅ Call answered: alice → bob' in lines
    assert any(line.startswith('📴 Call ended: 12s') for line in lines)


async def test_log_out_logs_disconnected(world: World, alice: Device, logs: pytest.LogCaptureFixture) -> None:
    await world.board.end(world.service_of(alice), 'logout')
    assert any(line.startswith('👋 User disconnected: alice') for line in log_lines(logs))


async def test_grace_expiry_logs_disconnected(world: World, alice: Device, logs: pytest.LogCaptureFixture) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S + 1)
    assert any(line.startswith('👋 User disconnected: alice') for line in log_lines(logs))


async def test_a_disconnect_within_grace_never_logs_disconnected(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture
) -> None:
    call_id = await talk(alice, bob)
    for _ in range(20):  # twenty reloads / network blips
        await drop(alice)
        await world.clock.advance(GRACE_S - 1)
        await back(alice)
    assert not any('disconnected' in line for line in log_lines(logs))
    assert alice.call is not None
    assert alice.call.id == call_id


async def test_a_closed_tab_with_another_open_never_logs_disconnected(
    world: World, alice: Device, logs: pytest.LogCaptureFixture
) -> None:
    await world.tab('alice')
    await alice.detach()
    await world.clock.advance(GRACE_S * 3)
    assert not any('disconnected' in line for line in log_lines(logs))


async def test_disconnected_is_logged_once_per_going_offline(
    world: World, alice: Device, logs: pytest.LogCaptureFixture
) -> None:
    await drop(alice)
    await world.clock.advance(GRACE_S + 1)
    await world.board.end(world.service_of(alice), 'logout')
    assert sum('User disconnected' in line for line in log_lines(logs)) == 1


def mark(caplog: pytest.LogCaptureFixture) -> int:
    return len(log_lines(caplog))


@pytest.mark.parametrize(
    ('outcome', 'word'),
    [('declined', 'declined'), ('missed', 'missed'), ('cancelled', 'cancelled'), ('busy', 'busy')],
)
async def test_unanswered_outcomes_each_log_a_line(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture, outcome: str, word: str
) -> None:
    if outcome == 'busy':
        await talk(await world.tab('carol'), bob)
    start = mark(logs)
    view = await alice.call_user('bob')
    if outcome == 'declined':
        await bob.decline(view.id)
    elif outcome == 'missed':
        await world.clock.advance(RING_TIMEOUT_S + 1)
    elif outcome == 'cancelled':
        await alice.hang_up(view.id)
    lines = log_lines(logs)[start:]
    assert any(word in line.lower() and 'alice → bob' in line for line in lines), lines


async def test_a_call_missed_because_the_callee_logged_out_logs_a_line(
    world: World, alice: Device, bob: Device, logs: pytest.LogCaptureFixture
) -> None:
    call_id = await ring(alice, bob)
    start = mark(logs)
    await world.board.end(world.service_of(bob), 'logout')
    assert world.call(call_id).end_reason == EndReason.MISSED
    assert any('missed' in line.lower() and 'alice → bob' in line for line in log_lines(logs)[start:])
