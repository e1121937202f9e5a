"""Issue 18, items 4 to 7, against a real app process: sockets are bounded (a foreign Origin, a refused program, an
anonymous renewal cost nothing), a client that does not read is disconnected, every user event is rate limited,
and nobody holds more tabs or program sockets than allowed.

Each test is bounded in count (a few hundred requests at most) and time (seconds).
"""

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.security.connections_helpers import (
    SOCKET_PATH,
    Program,
    RawTab,
    RawWebSocket,
    Refused,
    app_rss_kb,
    metric,
    program_request,
    program_socket,
    session_token,
)
from voiceconnect.testing.harness import AppServer, Person, wait_until

FLOOD = {'SIGNALS_PER_SECOND': 100_000, 'SIGNAL_BURST': 100_000}  # the signaling limit is not what these test
SDP_KB = 15  # under the SDP cap, as the largest real offers are (a cap of its own is tested below)


def fake_sdp(kb: int) -> str:
    line = 'a=x-filler:' + 'y' * 60 + '\r\n'
    return ('v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\n' + line * (kb * 1024 // len(line)))[: kb * 1024]


def account(server: AppServer, name: str) -> str:
    """An account made with the admin command; its session token (a program's sign-in)."""
    return session_token(server, *server.add_user(name))


@pytest.fixture
def bot(vc_server: AppServer) -> Iterator[Program]:
    program = Program(vc_server, account(vc_server, 'bot')).connect()
    yield program
    program.close()


# item 5: backpressure


@pytest.mark.parametrize('vc_settings', [FLOOD], indirect=True)
def test_a_program_socket_that_never_reads_is_closed_and_what_it_was_sent_is_let_go(
    vc_server: AppServer, bot: Program
) -> None:
    """Mallory calls the bot from a socket that never reads; the bot answers with 2,000 offers of 15 KB (30 MB),
    which the server relays to her. She is disconnected once what waits for her passes the bound, and the server
    holds a few MB, not the 30."""
    mallory = program_socket(vc_server, account(vc_server, 'mallory'))
    program_request(mallory, 1, 'call_user', {'name': 'bot'})
    mallory.stall()
    ringing = bot.wait_for_call(lambda call: call['state'] == 'ringing', 'the bot is rung')
    before = app_rss_kb(vc_server)
    offer = {'kind': 'offer', 'call_id': ringing['id'], 'leg': ringing['leg'], 'sdp': fake_sdp(SDP_KB)}
    started = time.monotonic()
    bot.send_many('signal', [{'signal': offer}] * 2000)
    line = vc_server.wait_for_log('⚠️ Socket closed: mallory does not read what is sent', timeout=20)
    assert 'it may reconnect' in line
    wait_until(mallory.closed_by_server.is_set, 'the server closed her connection', timeout=10)
    grown_mb = (app_rss_kb(vc_server) - before) / 1024
    print(f'RSS +{grown_mb:.1f} MB after 2,000 relayed offers of {SDP_KB} KB ({time.monotonic() - started:.1f} s)')
    assert grown_mb < 10, f'the server grew by {grown_mb:.1f} MB for a socket that reads nothing'
    assert 'Traceback' not in vc_server.log_text()
    mallory.close()


# the browser tab of a person signed in with a real browser, opened again by a raw client with its cookies


@pytest.fixture
def mallory(vc_server: AppServer, people) -> Person:
    (person,) = people(names=['mallory'])
    return person


def raw_tab(vc_server: AppServer, person: Person, path: str = '/', **kwargs: Any) -> RawTab:
    """Another tab of `person`'s browser, opened by a raw client, once its page is signed in."""
    cookies = {cookie['name']: cookie['value'] for cookie in person.page.context.cookies()}
    tab = RawTab(vc_server, cookies, path).open(**kwargs)
    tab.read_until(lambda text: f'Signed in as {person.name}' in text or 'tabs and programs' in text)
    return tab


def legs_in(text: str) -> list[str]:
    return re.findall(r'\\"leg\\": \\"(l[A-Za-z0-9_-]+)', text)


@pytest.mark.parametrize('vc_settings', [FLOOD], indirect=True)
def test_a_browser_tab_that_never_reads_is_closed_and_comes_back_like_after_a_blip(
    vc_server: AppServer, mallory: Person, bot: Program
) -> None:
    """The bot calls mallory; a tab of hers that stopped reading is relayed 2,000 answers of 15 KB. The server
    disconnects that socket; its page then reconnects as after a network blip: same page, same call, nobody
    logged out."""
    tab = raw_tab(vc_server, mallory)
    request = bot.request('call_user', {'name': mallory.name})
    call_id = request['call']['id']
    sync = tab.read_until(lambda text: 'vc.sync' in text and call_id in text and bool(legs_in(text)))
    leg = legs_in(sync)[0]
    tab.signal({'kind': 'offer', 'call_id': call_id, 'leg': leg, 'sdp': fake_sdp(1)})  # the bot learns her leg
    assert tab.socket is not None
    tab.socket.stall()
    answer = {'kind': 'answer', 'call_id': call_id, 'leg': leg, 'sdp': fake_sdp(SDP_KB)}
    bot.send_many('signal', [{'signal': answer}] * 2000)
    vc_server.wait_for_log(f'⚠️ Socket closed: {mallory.name} does not read what is sent', timeout=20)
    wait_until(tab.socket.closed_by_server.is_set, 'the server closed her connection', timeout=10)
    tab.close()

    tab.connect(next_message_id=0)  # what socket.io does after a drop: the same page, its socket again
    tab.read_until(lambda text: 'vc.sync' in text and call_id in text)  # the page is live, the call still rings
    assert bot.calls()[-1]['state'] == 'ringing'
    log = vc_server.log_text()
    assert 'User disconnected' not in log and 'Rejected socket handshake' not in log and 'Traceback' not in log
    tab.close()


# item 4: what a stranger's connection may cost


def test_a_socket_opened_from_another_website_is_refused(vc_server: AppServer) -> None:
    """A page of another site, in a signed-in person's browser, cannot open the app's socket (the browser sends
    its Origin); the app's own pages can, also behind a TLS proxy, and programs (no Origin) can."""
    own = vc_server.url
    for origin in ('https://evil.example', 'null', own.replace('127.0.0.1', 'localhost'), own.replace('http', 'https')):
        with pytest.raises(Refused, match=r'40[03]'):
            RawWebSocket(own, headers={'Origin': origin}).open()
    with httpx.Client(base_url=own, trust_env=False) as http:  # long polling: the same check
        polling = http.get(SOCKET_PATH, params={'EIO': '4', 'transport': 'polling'}, headers={'Origin': 'https://e.x'})
    assert polling.status_code == 400
    RawWebSocket(own, headers={'Origin': own}).open().close()
    RawWebSocket(own).open().close()
    proxied = {'Host': 'voice.example.org', 'X-Forwarded-Proto': 'https', 'Origin': 'https://voice.example.org'}
    RawWebSocket(own, headers=proxied).open().close()  # uvicorn trusts X-Forwarded-Proto from loopback


def test_refused_program_connects_leave_nothing_behind(vc_server: AppServer) -> None:
    """200 program connects with a token nobody has: each is refused, and the server holds none of them."""
    raw = RawWebSocket(vc_server.url).open()
    for attempt in range(200):
        raw.send('40/program,' + json.dumps({'token': f'forged-{attempt}', 'client_key': f'key-{attempt:05d}'}))
        refused = raw.read_until(lambda text: text.startswith(('40/program', '44/program')))
        assert refused.startswith('44/program') and 'Not signed in' in refused
    raw.close()
    wait_until(lambda: metric(vc_server, 'voiceconnect_program_sockets') == 0, 'no refused program socket is held')


def test_renewing_an_anonymous_browser_writes_nothing(vc_server: AppServer) -> None:
    """`POST /session/renew` (Log out's new browser id) from 100 browsers with nothing signed in: no storage file."""
    storage = Path(vc_server.data_dir, 'nicegui')
    before = set(storage.glob('storage-user-*.json'))
    for _ in range(100):
        with httpx.Client(base_url=vc_server.url, trust_env=False) as http:  # a new browser each time
            assert http.post('/session/renew', headers={'Sec-Fetch-Site': 'same-origin'}).status_code == 204
    assert set(storage.glob('storage-user-*.json')) == before
