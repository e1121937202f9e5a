"""Sessions that end in the store end on their live tabs and program sockets at once (issue 18, items 8 and 9):
the admin command's new password or removal (another process, the same database), the session's maximum age, too
many newer sessions. The core on a fake clock, with a real SQLite store."""

import pytest

from voiceconnect.calls.machine import CallError, CallState, EndReason
from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.connections.events import SignedOut
from voiceconnect.connections.service import ConnectionService
from voiceconnect.connections.session_sweep import SWEEP_EVERY_S, SessionSweep
from voiceconnect.connections.switchboard import Switchboard
from voiceconnect.people.accounts import Accounts
from voiceconnect.people.db import Store
from voiceconnect.programs.tabs import Programs
from voiceconnect.ratelimit import Limits

from .helpers import World, log_lines, ring, tab_of
from .test_programs import KEY, PASSWORD, Socket

MAX_AGE_S, IDLE_S = 120.0, 40.0  # short, so a test sweeps a few dozen times, not a hundred thousand


@pytest.fixture
def limits() -> Limits:
    return Limits(session_max_age_s=MAX_AGE_S, session_idle_s=IDLE_S, sessions_per_user=3)


@pytest.fixture
async def accounts(store: Store, clock: FakeClock, limits: Limits) -> Accounts:
    accounts = Accounts(store, clock, limits)
    for name in ('alice', 'bob'):
        await accounts.create(name, PASSWORD)
    return accounts


@pytest.fixture
def board(world: World, accounts: Accounts) -> Switchboard:
    """The switchboard as the backend wires it: call actions check their session in the store first."""
    world.board.session_check = accounts.session_ended
    return world.board


@pytest.fixture
def sweep(accounts: Accounts, board: Switchboard, clock: FakeClock) -> SessionSweep:
    sweep = SessionSweep(accounts, board, clock)
    sweep.start()
    return sweep


async def signed_in(world: World, accounts: Accounts, name: str, browser: str = 'laptop') -> Device:
    """A browser tab of `name` on a session of its own, as a sign-in makes it."""
    session = await accounts.sign_in(name, PASSWORD)
    service = await world.board.service_for(browser, name, session.token)
    return await world.attach(service)


async def test_a_new_password_signs_out_every_live_tab_within_a_sweep(
    world: World, accounts: Accounts, sweep: SessionSweep, logs: pytest.LogCaptureFixture
) -> None:
    laptop, phone = await signed_in(world, accounts, 'alice'), await signed_in(world, accounts, 'alice', 'phone')
    bob = await signed_in(world, accounts, 'bob')
    await accounts.set_password('alice', 'a new password')  # what `python -m voiceconnect.admin set-password` does
    await world.clock.advance(SWEEP_EVERY_S)
    assert tab_of(laptop).signed_out == tab_of(phone).signed_out == [SignedOut('revoked')]
    assert not world.hub.is_online('alice')
    assert tab_of(bob).signed_out == []
    assert '👋 User disconnected: alice (session revoked)' in log_lines(logs)


async def test_an_old_tab_cannot_place_a_call_even_before_the_sweep(
    world: World, accounts: Accounts, board: Switchboard
) -> None:
    """Issue 18: after `admin set-password` an old socket still placed a call."""
    alice, bob = await signed_in(world, accounts, 'alice'), await signed_in(world, accounts, 'bob')
    await accounts.set_password('alice', 'a new password')
    with pytest.raises(CallError, match=r'^You are signed out here\.$'):
        await alice.call_user('bob')
    assert tab_of(bob).views == []  # bob's browser did not ring
    assert tab_of(alice).signed_out == [SignedOut('revoked')]  # and the tab learned it at once


async def test_a_removed_accounts_call_ends_and_its_program_socket_is_closed(
    world: World, accounts: Accounts, board: Switchboard, sweep: SessionSweep
) -> None:
    programs = Programs(accounts, board, ice_servers=[])
    session = await programs.sign_in('alice', PASSWORD, address=None)
    socket = Socket()
    program = await programs.connect({'token': session.token, 'client_key': KEY}, socket.send, socket.close)
    bob = await signed_in(world, accounts, 'bob')
    call_id = await ring(bob, program.device)
    await accounts.remove('alice')  # `python -m voiceconnect.admin remove-user alice`
    await world.clock.advance(SWEEP_EVERY_S)
    assert socket.of('signed_out') == [{'reason': 'revoked'}]
    assert socket.closed
    view = tab_of(bob).last_view(call_id)
    assert (view.state, view.end_reason) == (CallState.ENDED, EndReason.MISSED)  # as if alice had logged out
    assert (await program.handle('call_user', {'name': 'bob'})) == {
        'error': 'You are signed out here.',
        'code': 'signed_out',
    }


async def test_a_session_at_its_maximum_age_ends_its_tabs_even_while_they_are_in_use(
    world: World, accounts: Accounts, sweep: SessionSweep
) -> None:
    alice = await signed_in(world, accounts, 'alice')
    await world.clock.advance(MAX_AGE_S - 10)  # connected all along: in use, never idle
    assert tab_of(alice).signed_out == []
    await world.clock.advance(10 + SWEEP_EVERY_S)
    assert tab_of(alice).signed_out == [SignedOut('session_expired')]


async def test_a_connected_tab_keeps_its_session_in_use_and_a_quiet_one_goes_idle(
    world: World, accounts: Accounts, sweep: SessionSweep
) -> None:
    kept = await signed_in(world, accounts, 'alice')
    quiet = await accounts.sign_in('alice', PASSWORD)  # signed in, then nothing: its browser never came back
    await world.clock.advance(IDLE_S + SWEEP_EVERY_S)
    assert tab_of(kept).signed_out == []
    assert await accounts.resume(quiet.token) is None


async def test_too_many_newer_sessions_end_the_oldest_tabs(
    world: World, accounts: Accounts, sweep: SessionSweep
) -> None:
    oldest = await signed_in(world, accounts, 'alice')
    for browser in ('b1', 'b2', 'b3'):  # SESSIONS_PER_USER is 3 here
        await world.clock.advance(1)
        await signed_in(world, accounts, 'alice', browser)
    await world.clock.advance(SWEEP_EVERY_S)
    assert tab_of(oldest).signed_out == [SignedOut('revoked')]
    assert world.hub.is_online('alice')  # the three newer ones are still signed in


async def test_a_database_that_fails_for_a_while_is_said_once_and_the_sweep_goes_on(
    world: World,
    accounts: Accounts,
    sweep: SessionSweep,
    store: Store,
    monkeypatch: pytest.MonkeyPatch,
    logs: pytest.LogCaptureFixture,
) -> None:
    alice = await signed_in(world, accounts, 'alice')
    working = store.sessions_by_hash

    async def locked(_: object) -> None:
        raise RuntimeError('database is locked')

    monkeypatch.setattr(store, 'sessions_by_hash', locked)
    await world.clock.advance(5 * SWEEP_EVERY_S)
    assert [line for line in log_lines(logs) if 'Could not check' in line] == [
        '⚠️ Could not check the sessions in the database: database is locked'
    ]
    monkeypatch.setattr(store, 'sessions_by_hash', working)
    await accounts.set_password('alice', 'a new password')
    await world.clock.advance(SWEEP_EVERY_S)
    assert tab_of(alice).signed_out == [SignedOut('revoked')]


async def test_a_tab_that_is_no_sign_in_is_not_checked(world: World, accounts: Accounts, board: Switchboard) -> None:
    """The Sound test answers through a tab of its own whose service has no session (token ''): it must still be
    able to accept a call."""
    alice = await signed_in(world, accounts, 'alice')
    echo = await world.attach(ConnectionService('echo', browser='sound-test', token=''))
    call_id = await ring(alice, echo)
    assert (await echo.accept(call_id)).state == CallState.CONNECTING
