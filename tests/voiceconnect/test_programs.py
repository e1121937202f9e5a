"""Programs as participants (voiceconnect/programs/tabs.py): a program's socket is a tab of its user. Its sign-in is the
form's (same limits), its connection needs a live session of that user, and every request goes through the same
authority checks, validation and rate limits as a browser tab's."""

from typing import Any

import pytest

from voiceconnect.clock import FakeClock
from voiceconnect.connections.device import Device
from voiceconnect.people.accounts import TOO_MANY_ATTEMPTS, WRONG_CREDENTIALS, AccountError, Accounts
from voiceconnect.people.db import Store
from voiceconnect.programs.tabs import NOT_SIGNED_IN, ProgramConnection, ProgramRefused, Programs
from voiceconnect.ratelimit import Limits

from .helpers import GRACE_S, World, leg_of, make_board, offer, tab_of

PASSWORD = 'correct horse'
KEY = 'client-key-1'


class Socket:
    """What a program's socket receives, and whether the server closed it."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self.closed = False

    def send(self, event: str, data: dict[str, Any]) -> None:
        self.received.append((event, data))

    def close(self) -> None:
        self.closed = True

    def of(self, event: str) -> list[dict[str, Any]]:
        return [data for name, data in self.received if name == event]

    def last_call(self) -> dict[str, Any]:
        calls = self.of('call')
        assert calls, 'the program heard of no call'
        return calls[-1]


@pytest.fixture
async def accounts(store: Store, clock: FakeClock) -> Accounts:
    accounts = Accounts(store, clock, Limits())
    for name in ('bot', 'alice', 'mallory'):
        await accounts.create(name, PASSWORD)
    return accounts


@pytest.fixture
def programs(accounts: Accounts, world: World) -> Programs:
    return Programs(accounts, world.board, ice_servers=[])


async def connect(programs: Programs, name: str = 'bot', key: str = KEY) -> tuple[ProgramConnection, Socket]:
    signed_in = await programs.sign_in(name, PASSWORD, address='192.0.2.1')
    socket = Socket()
    connection = await programs.connect({'token': signed_in.token, 'client_key': key}, socket.send, socket.close)
    return connection, socket


# authentication


async def test_a_program_with_the_right_password_is_online_like_a_tab(programs: Programs, alice: Device) -> None:
    connection, _ = await connect(programs)
    assert connection.device.user == 'bot'
    assert 'bot' in [user.name for user in alice.online_users()]
    assert (await connection.handle('online', {})) == {'users': [{'name': 'alice', 'in_call': False}]}


async def test_a_wrong_password_is_refused_with_the_forms_words(programs: Programs) -> None:
    with pytest.raises(AccountError, match=WRONG_CREDENTIALS):
        await programs.sign_in('bot', 'wrong password', address='192.0.2.1')
    with pytest.raises(AccountError):
        await programs.sign_in(['bot'], PASSWORD, address='192.0.2.1')


async def test_a_locked_name_refuses_even_the_right_password_from_that_address(programs: Programs) -> None:
    for _ in range(5):
        with pytest.raises(AccountError):
            await programs.sign_in('bot', 'wrong password', address='192.0.2.1')
    with pytest.raises(AccountError, match=TOO_MANY_ATTEMPTS.split('{')[0]):
        await programs.sign_in('bot', PASSWORD, address='192.0.2.1')
    assert (await programs.sign_in('bot', PASSWORD, address='192.0.2.2')).name == 'bot'  # not a stranger's to lock


@pytest.mark.parametrize(
    'hello',
    [None, 'token', {'token': 'x'}, {'token': 'x', 'client_key': 'short'}, {'token': 'x', 'client_key': 'a/b' * 5}],
)
async def test_a_malformed_connection_request_is_refused(programs: Programs, hello: object) -> None:
    with pytest.raises(ProgramRefused, match='Bad connection request'):
        await programs.connect(hello, Socket().send, Socket().close)


async def test_an_unknown_or_logged_out_session_is_refused(programs: Programs, accounts: Accounts) -> None:
    with pytest.raises(ProgramRefused, match=NOT_SIGNED_IN):
        await programs.connect({'token': 'made-up', 'client_key': KEY}, Socket().send, Socket().close)
    signed_in = await programs.sign_in('bot', PASSWORD, address=None)
    await accounts.sign_out(signed_in.token)
    with pytest.raises(ProgramRefused, match=NOT_SIGNED_IN):
        await programs.connect({'token': signed_in.token, 'client_key': KEY}, Socket().send, Socket().close)


async def test_a_program_acts_only_as_the_user_of_its_session(programs: Programs, accounts: Accounts) -> None:
    """The session decides who the program is: no request names its sender."""
    mallory = await accounts.sign_in('mallory', PASSWORD)
    socket = Socket()
    connection = await programs.connect({'token': mallory.token, 'client_key': KEY}, socket.send, socket.close)
    assert connection.device.user == 'mallory'
    refused = await connection.handle('call_user', {'name': 'alice', 'caller': 'bot'})
    assert 'error' in refused


async def test_log_out_ends_the_session_and_closes_the_socket(programs: Programs, alice: Device) -> None:
    connection, socket = await connect(programs)
    assert await connection.handle('log_out', {}) == {}
    assert socket.of('signed_out') == [{'reason': 'logout'}]
    assert socket.closed
    assert 'bot' not in [user.name for user in alice.online_users()]
    with pytest.raises(ProgramRefused, match=NOT_SIGNED_IN):
        await programs.connect({'token': connection.token, 'client_key': KEY}, Socket().send, Socket().close)


async def test_a_program_away_longer_than_the_grace_is_signed_out(
    programs: Programs, world: World, alice: Device
) -> None:
    connection, socket = await connect(programs)
    await connection.disconnected()
    await world.clock.advance(GRACE_S - 1)
    assert 'bot' in [user.name for user in alice.online_users()]
    await world.clock.advance(2)
    assert 'bot' not in [user.name for user in alice.online_users()]
    assert socket.of('signed_out') == [{'reason': 'expired'}]


# calls: like a tab


async def test_a_program_is_rung_and_answers_like_a_tab(programs: Programs, alice: Device) -> None:
    connection, socket = await connect(programs)
    call_id = (await alice.call_user('bot')).id
    ringing = socket.last_call()
    assert (ringing['id'], ringing['role'], ringing['peer']) == (call_id, 'callee', 'alice')
    assert ringing['state'] == 'ringing'
    assert ringing['leg'] and ringing['ice']['iceServers'] == []
    await connection.handle('signal', {'signal': offer(call_id, ringing['leg'])})
    assert tab_of(alice).relayed[-1]['kind'] == 'offer'
    answered = await connection.handle('accept', {'call_id': call_id})
    assert answered['call']['state'] == 'connecting'
    assert tab_of(alice).last_view(call_id).state == 'connecting'


async def test_a_program_calls_and_hears_the_refusal(programs: Programs, alice: Device) -> None:
    connection, socket = await connect(programs)
    placed = await connection.handle('call_user', {'name': 'alice'})
    call_id = placed['call']['id']
    assert placed['call']['state'] == 'ringing'
    await alice.decline(call_id)
    assert (socket.last_call()['state'], socket.last_call()['end_reason']) == ('ended', 'declined')


async def test_another_tab_answering_tells_the_program_answered_elsewhere(
    programs: Programs, world: World, alice: Device
) -> None:
    _, socket = await connect(programs)
    bot_browser = await world.tab('bot', browser='laptop')
    call_id = (await alice.call_user('bot')).id
    await bot_browser.accept(call_id)
    assert socket.last_call()['answered_elsewhere'] is True
    assert socket.last_call()['here'] is False


async def test_calling_someone_offline_says_so(programs: Programs) -> None:
    connection, _ = await connect(programs)
    placed = await connection.handle('call_user', {'name': 'alice'})  # ends at once; alice gets a missed call
    assert (placed['call']['state'], placed['call']['end_reason']) == ('ended', 'offline')


async def test_a_busy_callee_ends_the_programs_call_busy(programs: Programs, world: World, alice: Device) -> None:
    carol = await world.tab('carol')
    await alice.call_user('carol')
    connection, _ = await connect(programs)
    placed = await connection.handle('call_user', {'name': 'alice'})
    assert (placed['call']['state'], placed['call']['end_reason']) == ('ended', 'busy')
    assert carol.call is not None


async def test_ice_servers_come_only_with_a_call_the_program_carries(
    accounts: Accounts, world: World, alice: Device
) -> None:
    """ICE_SERVERS may hold a TURN server's static credentials: a program gets them to set up its own leg, never
    with a call to someone offline or busy, an ended call, or one answered elsewhere."""
    servers = [{'urls': 'turn:turn.example.org:3478', 'username': 'static', 'credential': 'long-lived'}]
    connection, socket = await connect(Programs(accounts, world.board, ice_servers=servers))
    offline = await connection.handle('call_user', {'name': 'mallory'})
    assert offline['call']['end_reason'] == 'offline' and 'ice' not in offline['call']
    laptop = await world.tab('bot', browser='laptop')
    call_id = (await alice.call_user('bot')).id
    ringing = socket.last_call()
    assert ringing['ice']['iceServers'] == servers  # its own leg rings: it negotiates now
    await laptop.accept(call_id)
    assert socket.last_call()['answered_elsewhere'] and 'ice' not in socket.last_call()
    assert [call for call in socket.of('call') if 'ice' in call] == [ringing]


async def test_refusals_carry_a_code_the_program_reads(programs: Programs, alice: Device) -> None:
    """One wire format (voiceconnect/wire.py): a program reads why from the code, never from the words."""
    connection, _ = await connect(programs)
    assert (await connection.handle('call_user', {'name': 'no such name'}))['code'] == 'not_found'
    assert (await connection.handle('call_user', {'name': 'Sound test/alice'}))['code'] == 'offline'
    await alice.call_user('bot')
    assert (await connection.handle('call_user', {'name': 'carol'}))['code'] == 'in_call'  # bot's phone rings
    assert (await connection.handle('format_disk', {}))['code'] == 'refused'


# authority and validation


async def test_a_program_cannot_signal_or_act_in_someone_elses_call(
    programs: Programs, world: World, alice: Device, bob: Device
) -> None:
    call_id = (await alice.call_user('bob')).id
    leg = leg_of(bob, call_id)
    connection, _ = await connect(programs, 'mallory')
    for event, data in (
        ('signal', {'signal': offer(call_id, leg)}),
        ('signal', {'signal': {'kind': 'media_up', 'call_id': call_id}}),
        ('accept', {'call_id': call_id}),
        ('decline', {'call_id': call_id}),
        ('hang_up', {'call_id': call_id}),
        ('mute', {'call_id': call_id, 'muted': True}),
    ):
        assert 'error' in await connection.handle(event, data), event
    assert tab_of(alice).relayed == []
    assert world.call(call_id).state == 'ringing'


@pytest.mark.parametrize(
    ('event', 'data'),
    [
        ('call_user', {}),
        ('call_user', {'name': 7}),
        ('call_user', 'alice'),
        ('accept', {'call_id': '../etc'}),
        ('mute', {'call_id': 'c1', 'muted': 'yes please'}),
        ('signal', {'signal': {'kind': 'offer', 'call_id': 'c1', 'leg': 'l1', 'sdp': 'x' * 70_000}}),
        ('signal', {'signal': {'kind': 'shell', 'call_id': 'c1'}}),
        ('signal', {'signal': 'offer'}),
        ('format_disk', {}),
    ],
)
async def test_malformed_requests_get_an_error_and_change_nothing(
    programs: Programs, world: World, event: str, data: object
) -> None:
    connection, socket = await connect(programs)
    answer = await connection.handle(event, data)
    assert set(answer) == {'error', 'code'}
    assert world.live_calls() == []
    assert not socket.closed


async def test_call_attempts_are_limited_per_user_like_a_tabs(
    accounts: Accounts, world: World, clock: FakeClock
) -> None:
    board = make_board(clock, world.recorder, Limits(calls_per_minute=2))
    programs = Programs(accounts, board, ice_servers=[])
    connection, _ = await connect(programs)
    answers = [await connection.handle('call_user', {'name': 'nobody'}) for _ in range(3)]
    assert answers[-1] == {'error': 'You are calling too often. Try again in 30 s.', 'code': 'rate_limited'}


async def test_signaling_is_limited_per_connection(accounts: Accounts, world: World, clock: FakeClock) -> None:
    board = make_board(clock, world.recorder, Limits(signals_per_second=1, signal_burst=3))
    programs = Programs(accounts, board, ice_servers=[])
    connection, _ = await connect(programs)
    media_up = {'signal': {'kind': 'media_up', 'call_id': 'c1'}}
    answers = [await connection.handle('signal', media_up) for _ in range(5)]
    assert 'too many call signals' in answers[3]['error']


# a signaling blip


async def test_a_reconnecting_program_keeps_its_tab_and_its_call(
    programs: Programs, world: World, alice: Device, accounts: Accounts
) -> None:
    """Back on a new socket with the same session and client key: the same device, so the same leg, and the call
    (and its media) carries on; the program is told the call afresh."""
    connection, socket = await connect(programs)
    call_id = (await alice.call_user('bot')).id
    await connection.handle('accept', {'call_id': call_id})
    leg = socket.last_call()['leg']
    await connection.disconnected()
    assert tab_of(alice).last_view(call_id).peer_reconnecting
    again = Socket()
    hello = {'token': connection.token, 'client_key': KEY}
    back = await programs.connect(hello, again.send, again.close)
    assert back.device is connection.device
    assert (again.last_call()['id'], again.last_call()['leg']) == (call_id, leg)
    assert not tab_of(alice).last_view(call_id).peer_reconnecting
    assert await back.handle('signal', {'signal': {'kind': 'media_up', 'call_id': call_id}}) == {}


async def test_another_session_with_the_same_client_key_takes_nothing_over(
    programs: Programs, alice: Device, accounts: Accounts
) -> None:
    connection, _ = await connect(programs)
    call_id = (await alice.call_user('bot')).id
    await connection.disconnected()
    other, _ = await connect(programs, 'bot')  # a new sign-in: another session, same key
    assert other.device is not connection.device
    assert 'error' in await other.handle('accept', {'call_id': call_id})


# how many sockets a session holds, and how long a dropped one stays


async def test_a_session_holds_at_most_its_program_sockets(programs: Programs) -> None:
    signed_in = await programs.sign_in('bot', PASSWORD, address='192.0.2.1')
    hello = {'token': signed_in.token}
    for n in range(5):
        await programs.connect(hello | {'client_key': f'client-key-{n}'}, Socket().send, Socket().close)
    with pytest.raises(ProgramRefused, match=r'^This session has 5 program sockets open, the most allowed\.'):
        await programs.connect(hello | {'client_key': 'client-key-5'}, Socket().send, Socket().close)


async def test_a_dropped_program_socket_goes_after_the_grace_while_another_of_its_session_lives(
    programs: Programs, world: World, alice: Device
) -> None:
    """As a browser tab's closed page goes after its grace: its device no longer rings, nor holds a call."""
    token = (await programs.sign_in('bot', PASSWORD, address='192.0.2.1')).token
    stays = await programs.connect({'token': token, 'client_key': 'client-key-stays'}, Socket().send, Socket().close)
    dropped = await programs.connect({'token': token, 'client_key': 'client-key-drops'}, Socket().send, Socket().close)
    await dropped.disconnected()
    await world.clock.advance(GRACE_S - 1)
    assert programs.switchboard.holds(dropped.device)  # it may still come back
    await world.clock.advance(2)
    assert not programs.switchboard.holds(dropped.device)
    assert programs.switchboard.holds(stays.device)
    call = await alice.call_user('bot')
    assert [leg for leg in world.calls.get(call.id).legs.values()] == [stays.device.id]  # type: ignore[union-attr]


async def test_a_program_back_within_the_grace_keeps_its_device(programs: Programs, world: World) -> None:
    connection, _ = await connect(programs)
    await connection.disconnected()
    await world.clock.advance(GRACE_S - 1)
    back = await programs.connect({'token': connection.token, 'client_key': KEY}, Socket().send, Socket().close)
    await world.clock.advance(GRACE_S)
    assert back is connection and programs.switchboard.holds(back.device)
