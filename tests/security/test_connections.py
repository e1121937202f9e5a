"""Issue 18, items 4 to 7, against a real app process: sockets are bounded (a foreign Origin, a refused program, an
anonymous renewal cost nothing), a client that does not read is disconnected, every user event is rate limited,
and nobody holds more tabs or program sockets than allowed.

Each test is bounded in count (a few hundred requests at most) and time (seconds).
"""

import itertools
import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import expect

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
from voiceconnect.testing.browser import Person
from voiceconnect.testing.servers import AppServer
from voiceconnect.testing.waiting import wait_until

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


# item 6: every event a person causes is rate limited


def allowed(per_minute: int, since: float) -> int:
    """What a limit of `per_minute` (its burst the same) lets through from `since` until now."""
    return per_minute + int((time.monotonic() - since) * per_minute / 60) + 1


def dnd_switch(element: dict[str, Any]) -> bool:
    return element.get('text') == 'Do not disturb'


def test_do_not_disturb_flipped_by_a_script_reaches_others_at_most_the_limit(
    vc_server: AppServer, mallory: Person, bot: Program
) -> None:
    """100 flips of mallory's Do not disturb switch from a raw tab: the bot (and every other tab online) hears at
    most DND_CHANGES_PER_MINUTE (20) of them; mallory is told when to retry; one log line."""
    tab = raw_tab(vc_server, mallory)
    switch = tab.listener('update:modelValue', dnd_switch)
    started = time.monotonic()
    for flip in range(100):
        tab.emit(*switch, flip % 2 == 0)
        time.sleep(0.02)  # 50 flips a second, each taking effect before the next
    tab.read_until(lambda text: 'You switched Do not disturb too often. Try again in' in text)
    time.sleep(1)  # what was allowed has reached the bot by now
    heard = [data for event, data in bot.events if event == 'presence' and mallory.name in json.dumps(data)]
    assert 15 <= len(heard) <= allowed(20, started), len(heard)
    lines = [line for line in vc_server.log_text().splitlines() if 'Rate limited: do not disturb changes' in line]
    assert len(lines) == 1 and lines[0].startswith(f'⚠️ Rate limited: do not disturb changes by {mallory.name} (retry')
    assert 'Traceback' not in vc_server.log_text()
    tab.close()


def test_searches_by_a_script_are_limited(vc_server: AppServer, mallory: Person) -> None:
    """100 searches from a raw tab: at most SEARCHES_PER_MINUTE (60) are run, then she is told when to retry."""
    tab = raw_tab(vc_server, mallory)
    box = tab.listener('update:value', lambda element: element.get('props', {}).get('label') == 'Search people')
    started = time.monotonic()
    for query in range(100):
        tab.emit(*box, f'q{query:03d}')
    tab.read_until(lambda text: 'You searched too often. Try again in' in text)
    assert tab.socket is not None
    tab.socket.read_for(1)
    run = 100 - sum(text.count('You searched too often') for text in tab.socket.texts)
    assert 50 <= run <= allowed(60, started), f'{run} searches were run'
    assert vc_server.log_text().count('Rate limited: searches by') == 1
    tab.close()


def test_the_whole_online_list_asked_for_by_a_script_is_limited(vc_server: AppServer, mallory: Person) -> None:
    """100 `ready` events of the online list (each asks for the whole list): at most LIST_REFRESHES_PER_MINUTE."""
    tab = raw_tab(vc_server, mallory)
    ready = tab.listener('ready')
    started = time.monotonic()
    for _ in range(100):
        tab.emit(*ready)
    tab.read_until(lambda text: 'The online list was asked for too often' in text)
    time.sleep(0.5)
    resets = [data for event, data in tab.messages() if event == 'run_javascript' and '"reset"' in data['code']]
    assert 50 <= len(resets) <= allowed(60, started), len(resets)
    tab.close()


def test_mute_flipped_by_a_script_is_limited(vc_server: AppServer, bot: Program) -> None:
    """mallory (a program) in a call with the bot flips mute 100 times: at most MUTES_PER_MINUTE reach the bot."""
    mallory = Program(vc_server, account(vc_server, 'mallory')).connect()
    call = mallory.request('call_user', {'name': 'bot'})['call']
    ringing = bot.wait_for_call(lambda c: c['state'] == 'ringing', 'the bot is rung')
    bot.request('accept', {'call_id': ringing['id']})
    started = time.monotonic()
    answers = [mallory.request('mute', {'call_id': call['id'], 'muted': flip % 2 == 0}) for flip in range(100)]
    refused = [answer['error'] for answer in answers if 'error' in answer]
    assert refused and refused[0].startswith('You muted and unmuted too often. Try again in')
    assert 50 <= 100 - len(refused) <= allowed(60, started)
    time.sleep(0.5)
    flips = [c['peer_muted'] for c in bot.calls() if c['state'] != 'ringing']
    changes = sum(1 for a, b in itertools.pairwise(flips) if a != b)
    assert changes <= allowed(60, started), changes
    mallory.close()


def test_browser_log_messages_by_a_script_are_limited(vc_server: AppServer, mallory: Person) -> None:
    """50 `log` frames from a page: BROWSER_LOGS_PER_MINUTE (10) reach the log, then one line says the rest went."""
    tab = raw_tab(vc_server, mallory)
    started = time.monotonic()
    for n in range(50):
        tab.log(f'message {n}')
    vc_server.wait_for_log(f'⚠️ Rate limited: browser log messages from {mallory.name}')
    time.sleep(0.5)
    logged = [line for line in vc_server.log_text().splitlines() if line.startswith(f'🌐 Browser of {mallory.name}')]
    assert 10 <= len(logged) <= allowed(10, started), logged
    tab.close()


def test_calling_a_name_of_100000_characters_echoes_a_short_quoted_prefix(
    vc_server: AppServer, mallory: Person
) -> None:
    tab = raw_tab(vc_server, mallory)
    people_list = tab.listener('call', lambda element: any(e['type'] == 'ready' for e in element.get('events', [])))
    tab.emit(*people_list, 'x' * 100_000)
    told = tab.read_until(lambda text: 'There is nobody called' in text)
    assert "There is nobody called 'xxxxxxxxxxxxxxxxxxxx…'." in told
    assert 'x' * 100 not in ' '.join(tab.socket.texts if tab.socket else [])
    assert 'x' * 100 not in vc_server.log_text()
    tab.close()


# item 7: how many tabs and program sockets one person, one address, one session may hold


@pytest.mark.parametrize('vc_settings', [{'TABS_PER_USER': 4}], indirect=True)
def test_a_user_past_the_tab_bound_is_refused_with_words_and_the_open_tabs_stay(
    vc_server: AppServer, mallory: Person, bot: Program
) -> None:
    """mallory has her browser's page and three raw tabs open (4, the bound): a fifth tab lands on the sign-in page
    saying why, a program socket of hers is refused saying why, and her four tabs are still hers (they all ring)."""
    tabs = [raw_tab(vc_server, mallory) for _ in range(3)]
    refused = raw_tab(vc_server, mallory)
    told = refused.read_until(lambda text: 'tabs and programs open' in text)
    assert 'You have 4 tabs and programs open, the most one person may have at once. Close one, then try again.' in told
    assert f'Signed in as {mallory.name}' not in ' '.join(refused.socket.texts if refused.socket else [])
    with pytest.raises(Refused, match='You have 4 tabs and programs open'):
        program_socket(vc_server, account_token(vc_server, mallory))
    call_id = bot.request('call_user', {'name': mallory.name})['call']['id']
    for tab in tabs:  # nobody was kicked to make room
        tab.read_until(lambda text: 'vc.sync' in text and call_id in text)
    expect(mallory.page.get_by_role('dialog')).to_contain_text('Incoming call')
    assert 'Traceback' not in vc_server.log_text()
    for tab in [*tabs, refused]:
        tab.close()


def account_token(vc_server: AppServer, person: Person) -> str:
    return session_token(vc_server, person.name, person.password)


@pytest.mark.parametrize('vc_settings', [{'TABS_PER_ADDRESS': 4}], indirect=True)
def test_an_address_past_the_tab_bound_is_refused(vc_server: AppServer, mallory: Person, bot: Program) -> None:
    """From one address: mallory's page, the bot's socket and two raw tabs of hers (4, the bound); one more of
    anyone's is refused, saying why."""
    tabs = [raw_tab(vc_server, mallory) for _ in range(2)]
    with pytest.raises(Refused, match='Too many tabs and programs are open from your network address'):
        program_socket(vc_server, account(vc_server, 'carol'))
    refused = raw_tab(vc_server, mallory)
    refused.read_until(lambda text: 'Too many tabs and programs are open from your network address' in text)
    for tab in [*tabs, refused]:
        tab.close()


def test_a_session_holds_at_most_its_program_sockets(vc_server: AppServer) -> None:
    """PROGRAM_SOCKETS_PER_SESSION (5) sockets on one token; the sixth is refused, saying why."""
    token = account(vc_server, 'mallory')
    sockets = [program_socket(vc_server, token) for _ in range(5)]
    with pytest.raises(Refused, match='This session has 5 program sockets open, the most allowed'):
        program_socket(vc_server, token)
    for raw in sockets:
        raw.close()


@pytest.mark.parametrize('vc_settings', [{'RECONNECT_GRACE_S': 3}], indirect=True)
def test_a_program_socket_that_never_comes_back_goes_with_the_grace_like_a_tab(
    vc_server: AppServer, bot: Program
) -> None:
    """mallory's program answers the bot on one socket while another socket of the same session stays connected;
    the answering socket drops and never comes back. As for a browser tab, its device goes after the grace and the
    call ends as connection lost (before, it stayed attached for as long as the other socket lived)."""
    token = account(vc_server, 'mallory')
    stays = Program(vc_server, token).connect()
    answers = Program(vc_server, token).connect()
    call_id = bot.request('call_user', {'name': 'mallory'})['call']['id']
    wait_until(lambda: any(c['state'] == 'ringing' for c in answers.calls()), 'her sockets are rung')
    answers.request('accept', {'call_id': call_id})
    bot.wait_for_call(lambda c: c['state'] == 'connecting', 'the call is answered')
    answers.disconnect()
    ended = bot.wait_for_call(lambda c: c['state'] == 'ended', 'the call ends', timeout=3 + 5)
    assert ended['end_reason'] == 'connection_lost'
    vc_server.wait_for_log('💔 Connection lost: bot → mallory (mallory did not come back)')
    assert 'User disconnected: mallory' not in vc_server.log_text()  # her other socket keeps her online
    stays.close()
    answers.close()
