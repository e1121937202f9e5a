"""Hostile clients: a second signed-in user attacks a live call between two others, through a real browser page's
socket and through a raw python-socketio client holding a valid session. Every attempt fails, the victims keep
hearing each other, the attempts are logged, and nothing a browser receives names another user's tab or session.

The worst case is assumed throughout: the attacker knows the call id and the legs (read here from the victims'
pages), and for the NiceGUI-level forgeries even the victim's client id, element and listener ids.
"""

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import socketio
from playwright.sync_api import expect

from voiceconnect.calls.signals import MAX_SDP
from voiceconnect.testing.browser import Person
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import AppServer
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call
from .hostile import (
    RawSocket,
    SocketRecorder,
    button_listener,
    client_id,
    emit_raw,
    emit_signal,
    event_frame,
    tab_id,
)

SDP = 'v=0\r\no=- 1 2 IN IP4 127.0.0.2\r\ns=-\r\nt=0 0\r\n'
CANDIDATE = 'candidate:1 1 udp 2122260223 127.0.0.2 50000 typ host'
REJECTED = 'Call signaling rejected'


@dataclass
class Victims:
    alice: Person
    bob: Person
    mallory: Person
    call_id: str
    bob_leg: str
    alice_frames: SocketRecorder
    bob_frames: SocketRecorder
    mallory_frames: SocketRecorder


@pytest.fixture
def victims(vc_server: AppServer, people) -> Victims:
    """Alice and Bob in a call, both hearing the other's tone; Mallory signed in on her own browser."""
    alice, bob, mallory = people(3)
    frames = [SocketRecorder(person.page) for person in (alice, bob, mallory)]
    for person in (alice, bob, mallory):  # a fresh document, so the recorder sees its socket from the start
        person.page.reload()
        expect(person.page.get_by_text(f'Signed in as {person.name}')).to_be_visible()
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_be_visible()
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    call_id = alice.page.url.rsplit('/', 1)[-1]
    (bob_leg,) = frames[1].legs()  # in the worst case the attacker knows it too
    return Victims(alice, bob, mallory, call_id, bob_leg, *frames)


@pytest.fixture
def raw_mallory(vc_server: AppServer, victims: Victims) -> Iterator[RawSocket]:
    """Mallory's session cookie in a python-socketio client: a tab of hers without a browser."""
    raw = RawSocket.of(victims.mallory.page, vc_server.url).open()
    wait_until(lambda: victims.mallory.name in raw.text(), 'the raw socket is signed in as mallory')
    yield raw
    raw.close()


def forged_signals(v: Victims) -> dict[str, object]:
    """Signals for someone else's call: right ids, every kind, impersonation, oversize, malformed. The first five
    are of different kinds, as the app shows and logs a tab's first five rejections a minute (then one line)."""
    call_id, leg = v.call_id, v.bob_leg
    return {
        'offer as bob': {'kind': 'offer', 'call_id': call_id, 'leg': leg, 'sdp': SDP},
        'sdp of 17 KiB': {'kind': 'offer', 'call_id': call_id, 'leg': leg, 'sdp': 'a' * (MAX_SDP + 1024)},
        'log forging kind': {'kind': f'x\n✅ Call answered: {v.mallory.name} → {v.alice.name}', 'call_id': call_id},
        'impersonating alice': {
            'kind': 'media_failed',
            'call_id': call_id,
            'reason': 'mic_refused',
            'user': v.alice.name,
        },
        'call id of another shape': {'kind': 'media_up', 'call_id': f'{call_id}/../x'},
        'answer as alice': {'kind': 'answer', 'call_id': call_id, 'leg': leg, 'sdp': SDP},
        'candidate': {'kind': 'candidate', 'call_id': call_id, 'leg': leg, 'candidate': CANDIDATE},
        'media up': {'kind': 'media_up', 'call_id': call_id},
        'media failed (would end the call)': {'kind': 'media_failed', 'call_id': call_id, 'reason': 'mic_refused'},
        'impersonating bob (device)': {'kind': 'candidate', 'call_id': call_id, 'leg': leg, 'candidate': CANDIDATE}
        | {'device': 'bob', 'from': v.bob.name},
        'unknown kind': {'kind': 'hangup', 'call_id': call_id},
        'not an object': 'hang up',
        'a list': [call_id, leg],
        'nothing': None,
    }


# what the log says about the first five of them
FIRST_REASONS = [
    'No such call.',
    f'String should have at most {MAX_SDP} characters',
    'a signal is an object whose kind is one of',
    'Extra inputs are not permitted',
    'String should match pattern',
]


def assert_call_goes_on(vc_server: AppServer, v: Victims) -> None:
    """Both still talk, see the call, and the server raised nothing and forged nothing."""
    expect(v.alice.page.get_by_text(f'In call with {v.bob.name}')).to_be_visible()
    expect(v.bob.page.get_by_text(f'In call with {v.alice.name}')).to_be_visible()
    wait_for_tone(v.alice.page, v.bob.tone_hz)
    wait_for_tone(v.bob.page, v.alice.tone_hz)
    log = vc_server.log_text()
    assert 'Traceback' not in log and 'ERROR' not in log, vc_server.log_tail(80)
    assert 'Call ended' not in log and 'Media failed' not in log
    assert not re.search(rf'^✅ Call answered: {re.escape(v.mallory.name)}', log, re.M), 'a forged log line'


def socket_rejections(vc_server: AppServer, name: str) -> list[str]:
    prefixes = (f'⚠️ Rejected socket message from {name}:', f'🌐 Browser of {name} says:')
    return [line for line in vc_server.log_text().splitlines() if line.startswith(prefixes)]


def rejections_logged(vc_server: AppServer, name: str) -> list[str]:
    return [line for line in vc_server.log_text().splitlines() if f'Rejected signal from {name}: ' in line]


def assert_rejections_logged(vc_server: AppServer, name: str) -> None:
    """The first forgeries are logged one a line, naming the sender and the reason, in order."""
    wait_until(lambda: len(rejections_logged(vc_server, name)) >= len(FIRST_REASONS), f'rejections logged for {name}')
    for line, reason in zip(rejections_logged(vc_server, name), FIRST_REASONS, strict=False):
        assert reason in line, (line, reason)


def test_forged_signals_from_another_users_page_fail_and_are_logged(vc_server: AppServer, victims: Victims) -> None:
    v = victims
    v.mallory.page.goto(v.alice.page.url)  # someone else's call page, by its URL: shows nothing of it
    expect(v.mallory.page.get_by_text('This call is not available here.')).to_be_visible()
    expect(v.mallory.page.get_by_text('In call with')).to_have_count(0)
    for payload in forged_signals(v).values():
        emit_signal(v.mallory.page, payload)
    v.mallory.page.evaluate('() => emitEvent("vc_signal")')  # no argument at all
    v.mallory.page.evaluate('() => emitEvent("vc_signal", 1, 2)')  # two
    expect(v.mallory.page.get_by_text(REJECTED).first).to_be_visible()
    assert_rejections_logged(vc_server, v.mallory.name)
    assert_call_goes_on(vc_server, v)
    assert REJECTED not in v.alice_frames.text() + v.bob_frames.text()  # only the sender is told


def test_forged_signals_from_a_raw_socket_with_a_valid_session_fail_and_are_logged(
    vc_server: AppServer, victims: Victims, raw_mallory: RawSocket
) -> None:
    v = victims
    for payload in forged_signals(v).values():
        raw_mallory.signal(payload)
    wait_until(lambda: REJECTED in raw_mallory.text(), 'the raw client is told its signals were rejected')
    assert_rejections_logged(vc_server, v.mallory.name)
    assert_call_goes_on(vc_server, v)
    assert raw_mallory.connected


def test_nicegui_events_forged_into_the_victims_page_do_nothing(
    vc_server: AppServer, victims: Victims, raw_mallory: RawSocket
) -> None:
    """Clicking Alice's `Hang up` from Mallory's sockets, with Alice's element and listener ids, under Mallory's
    own client id (NiceGUI finds no such element there) and under a made-up one."""
    v = victims
    hang_up = button_listener(v.alice.page, 'Hang up')
    mute = button_listener(v.alice.page, 'Mute')
    mallory_page = client_id(v.mallory.page)
    assert raw_mallory.ids is not None
    for owner in (mallory_page, raw_mallory.ids.client_id, '00000000-0000-4000-8000-000000000000'):
        for target in (hang_up, mute):
            frame = event_frame(owner, target.element_id, target.listener_id)
            emit_raw(v.mallory.page, 'event', frame)
            raw_mallory.emit('event', frame)
    assert_call_goes_on(vc_server, v)
    expect(v.alice.page.get_by_role('button', name='Mute', exact=True)).to_be_visible()  # not muted


def test_nicegui_events_carrying_the_victims_client_id_are_refused(
    vc_server: AppServer, victims: Victims, raw_mallory: RawSocket
) -> None:
    """Worst case: Alice's NiceGUI client id leaked. NiceGUI 3.18 routes an `event` by the client id in the
    message, not by the socket it came on; the app must only take a client's events from that client's socket."""
    v = victims
    alice = client_id(v.alice.page)
    hang_up = button_listener(v.alice.page, 'Hang up')
    mute = button_listener(v.alice.page, 'Mute')
    for target in (mute, hang_up):
        frame = event_frame(alice, target.element_id, target.listener_id)
        emit_raw(v.mallory.page, 'event', frame)
        raw_mallory.emit('event', frame)
    signal = event_frame(
        alice, *_signal_listener(v), {'kind': 'media_failed', 'call_id': v.call_id, 'reason': 'mic_refused'}
    )
    raw_mallory.emit('event', signal)
    wait_until(lambda: len(socket_rejections(vc_server, v.mallory.name)) >= 5, 'each forgery is logged, naming mallory')
    assert all('for another page' in line for line in socket_rejections(vc_server, v.mallory.name))
    assert_call_goes_on(vc_server, v)
    expect(v.alice.page.get_by_role('button', name='Mute', exact=True)).to_be_visible()


def _signal_listener(v: Victims) -> tuple[int, str]:
    """Alice's vc_signal element and listener ids (the layout's listener, as in every page)."""
    script = """(() => { for (const [id, el] of Object.entries(mounted_app.elements))
        for (const e of el.events || []) if (e.type === 'vc_signal') return [id, e.listener_id]; })()"""
    element, listener = v.alice.page.evaluate(script)
    return int(element), listener


def test_other_socket_messages_for_the_victims_client_do_nothing(
    vc_server: AppServer, victims: Victims, raw_mallory: RawSocket
) -> None:
    """javascript_response, ack and log messages naming Alice's client, and malformed NiceGUI frames."""
    v = victims
    alice, page = client_id(v.alice.page), client_id(v.mallory.page)
    assert raw_mallory.ids is not None
    own = raw_mallory.ids.client_id
    messages = [
        ('javascript_response', {'client_id': alice, 'request_id': 'r1', 'result': 'x'}),
        ('ack', {'client_id': alice, 'next_message_id': 10**9}),
        ('log', {'client_id': alice, 'level': 'error', 'message': 'forged by mallory'}),
        ('log', {'client_id': own, 'level': 'error', 'message': f'x\n✅ Call answered: {v.mallory.name} → me'}),
        ('event', {'client_id': own, 'id': 0, 'listener_id': 'no such listener', 'args': ['{']}),
        ('event', {'client_id': own, 'id': 0, 'listener_id': 'no such listener', 'args': [1]}),
        ('event', {'client_id': alice}),
        ('event', {'id': '0', 'listener_id': 'nope', 'args': ['{']}),
        ('event', 'not a dict'),
        ('handshake', {'client_id': alice, 'tab_id': tab_id(v.alice.page), 'document_id': 'd'}),
    ]
    for event, message in messages:
        raw_mallory.emit(event, message)
        emit_raw(v.mallory.page, event, message | {'client_id': page} if isinstance(message, dict) else message)
    wait_until(lambda: len(socket_rejections(vc_server, v.mallory.name)) >= len(messages), 'every message is logged')
    assert_call_goes_on(vc_server, v)
    mentions = [line for line in vc_server.log_text().splitlines() if 'forged by mallory' in line]
    assert all(line.startswith(f'🌐 Browser of {v.mallory.name} says:') for line in mentions), mentions


def test_a_raw_client_claiming_the_victims_tab_id_is_still_mallory(vc_server: AppServer, victims: Victims) -> None:
    """Tab storage says which account a tab is; a stolen tab id must not make Mallory's socket Alice's tab."""
    v = victims
    stolen = tab_id(v.alice.page)
    raw = RawSocket.of(v.mallory.page, vc_server.url, tab_id=stolen, old_tab_id=stolen).open()
    try:
        wait_until(lambda: f'Signed in as {v.mallory.name}' in raw.text(), 'the raw tab is signed in as mallory')
        assert f'Signed in as {v.alice.name}' not in raw.text()
        raw.signal({'kind': 'media_failed', 'call_id': v.call_id, 'reason': 'mic_refused'})
        wait_until(lambda: REJECTED in raw.text(), 'the raw client is told its signal was rejected')
    finally:
        raw.close()
    assert_call_goes_on(vc_server, v)


def test_a_connect_url_handshake_for_another_users_page_is_refused_and_logged(
    vc_server: AppServer, victims: Victims
) -> None:
    """Worst case: Alice's client id and tab id leaked. NiceGUI 3.18 accepts a handshake for a page from any socket
    presenting both, also in the connect URL (past a guard on the `handshake` event); the app refuses a socket
    whose session is not the one that loaded the page."""
    v = victims
    mark = vc_server.log_mark()
    raw = RawSocket.of(v.mallory.page, vc_server.url, tab_id=tab_id(v.alice.page))
    try:
        with pytest.raises(socketio.exceptions.ConnectionError):
            raw.open(client_id=client_id(v.alice.page))
        assert not raw.connected
        assert f'Signed in as {v.alice.name}' not in raw.text()
    finally:
        raw.close()
    line = vc_server.wait_for_log('⚠️ Rejected socket handshake', since=mark)
    assert client_id(v.alice.page) in line
    assert_call_goes_on(vc_server, v)
    v.alice.page.get_by_role('button', name='Mute', exact=True).click()  # Alice's page is still hers
    expect(v.bob.page.get_by_text(f'{v.alice.name} is muted')).to_be_visible()


def test_no_browser_is_sent_another_users_tab_or_session(vc_server: AppServer, victims: Victims) -> None:
    """Everything the three pages received since before the call: no client id, tab id, browser id or session
    token of anyone else (the parties share only call ids and legs; Mallory does not even get those)."""
    v = victims
    people = (v.alice, v.bob, v.mallory)
    secrets = {person.name: identifiers(person, vc_server) for person in people}
    assert all(len(found) == 4 for found in secrets.values()), secrets
    for person, frames in zip(people, (v.alice_frames, v.bob_frames, v.mallory_frames), strict=True):
        received = frames.text()
        assert 'Signed in as' in received, f'nothing recorded for {person.name}'
        for other in people:
            leaked = {secret for secret in secrets[other.name] if secret in received} if other != person else set()
            assert not leaked, f'{person.name} was sent {other.name}’s {leaked}'
    assert 'vc.signal' in v.alice_frames.text() and 'vc.sync' in v.bob_frames.text()
    assert v.call_id not in v.mallory_frames.text() and v.bob_leg not in v.mallory_frames.text()


def identifiers(person: Person, vc_server: AppServer) -> set[str]:
    """A person's NiceGUI client id (their device id), tab id, browser id and session tokens."""
    found = {client_id(person.page), tab_id(person.page)}
    for storage in Path(vc_server.data_dir, 'nicegui').glob('storage-user-*.json'):
        accounts = json.loads(storage.read_text()).get('accounts', {})
        if person.name in accounts:
            found |= {accounts[person.name], storage.stem.removeprefix('storage-user-')}
    return found
