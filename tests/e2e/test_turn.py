"""TURN with time-limited credentials, against a real coturn (`use-auth-secret`) on loopback: a relay-only call
carries voice both ways through it; coturn refuses an expired and a tampered credential; a page gets
credentials that expire, never the secret."""

import asyncio
import functools
import json
import re
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from aioice.stun import TransactionFailed
from aioice.turn import create_turn_endpoint

from voiceconnect.testing.browser import peek
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import AppServer, CoturnServer
from voiceconnect.testing.waiting import wait_until
from voiceconnect.turn import turn_credentials

from .conftest import accept, call

TTL_S = 600

SELECTED_PAIR = """(async () => {
  for (const [, call] of window.vc.calls) for (const [, leg] of call.legs) {
    const stats = await leg.pc.getStats();
    for (const report of stats.values()) {
      if (report.type !== 'transport' || !report.selectedCandidatePairId) continue;
      const pair = stats.get(report.selectedCandidatePairId);
      return [stats.get(pair.localCandidateId).candidateType, stats.get(pair.remoteCandidateId).candidateType];
    }
  }
  return null;
})()"""
ICE_CONFIG = '(() => { for (const [, call] of window.vc.calls) return call.ice; return null; })()'


@pytest.fixture(scope='module')
def coturn(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CoturnServer]:
    with CoturnServer(tmp_path_factory.mktemp('coturn')) as server:
        yield server


@pytest.fixture
def vc_settings(coturn: CoturnServer) -> dict[str, Any]:
    return {
        'TURN_URLS': f'["{coturn.url}"]',
        'TURN_SECRET': coturn.secret,
        'TURN_TTL_S': TTL_S,
        'ICE_TRANSPORT_POLICY': 'relay',
    }


def test_a_relay_only_call_carries_voice_both_ways_through_turn(
    coturn: CoturnServer, vc_server: AppServer, people
) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    for person in (alice, bob):
        pair = wait_until(functools.partial(peek, person.page, SELECTED_PAIR), f'{person.name} has a selected pair')
        assert pair == ['relay', 'relay'], pair
        config = peek(person.page, ICE_CONFIG)
        assert config['iceTransportPolicy'] == 'relay'
        (turn,) = config['iceServers']
        expiry, name = turn['username'].split(':', 1)
        assert name == person.name
        assert 0 < int(expiry) - time.time() <= TTL_S  # time-limited
        assert turn['credential'] == turn_credentials(coturn.secret, person.name, TTL_S, int(expiry) - TTL_S).credential
        page = person.page.content() + repr(config)
        assert coturn.secret not in page  # never the secret itself
    # what the server pushes at 0.8 of the TTL in a long call: fresh credentials, an ICE restart, still relayed
    renewed = turn_credentials(coturn.secret, bob.name, TTL_S, time.time() + 1)
    fresh = {'urls': [coturn.url], 'username': renewed.username, 'credential': renewed.credential}
    config = {'iceServers': [fresh], 'iceTransportPolicy': 'relay', 'expires_at': renewed.expires_at}
    peek(bob.page, f'window.vc.renewIce({json.dumps(config)})')
    wait_until(lambda: peek(bob.page, ICE_CONFIG)['iceServers'][0]['username'] == renewed.username, 'renewed')
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    assert peek(bob.page, SELECTED_PAIR) == ['relay', 'relay']
    assert 'ERROR' not in vc_server.log_text()


async def _allocate(coturn: CoturnServer, username: str, password: str) -> tuple[str, int]:
    """A TURN allocation on coturn with these credentials: the relayed address, or TransactionFailed."""
    transport, _ = await create_turn_endpoint(
        asyncio.DatagramProtocol, ('127.0.0.1', coturn.port), username=username, password=password
    )
    try:
        relayed: tuple[str, int] = transport.get_extra_info('sockname')
        return relayed
    finally:
        transport.close()


def allocate(coturn: CoturnServer, username: str, password: str) -> tuple[str, int]:
    """In a thread of its own: the browser tests' Playwright keeps an event loop running in this one."""
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, asyncio.wait_for(_allocate(coturn, username, password), 10)).result()


def refusal(coturn: CoturnServer, username: str, password: str) -> str:
    with pytest.raises(TransactionFailed) as refused:
        allocate(coturn, username, password)
    return str(refused.value)


def test_coturn_relays_for_fresh_credentials_and_refuses_expired_or_tampered_ones(coturn: CoturnServer) -> None:
    fresh = turn_credentials(coturn.secret, 'alice', TTL_S, time.time())
    host, _ = allocate(coturn, fresh.username, fresh.credential)
    assert host == '127.0.0.1'

    expired = turn_credentials(coturn.secret, 'alice', 60, time.time() - 120)
    assert re.search(r'401', refusal(coturn, expired.username, expired.credential))

    later = fresh.username.replace(str(fresh.expires_at), str(fresh.expires_at + 86_400))  # a longer life
    assert re.search(r'401', refusal(coturn, later, fresh.credential))
    someone_else = fresh.username.replace(':alice', ':mallory')
    assert re.search(r'401', refusal(coturn, someone_else, fresh.credential))
    forged = turn_credentials('not the secret', 'alice', TTL_S, time.time())
    assert re.search(r'401', refusal(coturn, forged.username, forged.credential))
