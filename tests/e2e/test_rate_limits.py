"""Signaling limits against real browsers: a real call stays far below them; a flooding tab is told once, the server
logs one line, and the call goes on for both."""

import time

from playwright.sync_api import expect

from voiceconnect.ratelimit import Limits
from voiceconnect.testing.browser import Person
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import AppServer

from .conftest import accept, call

DROPPED = 'This tab sent too many call signals; some were dropped.'
SENT = "() => vc.trace.map(([, what]) => what).filter((what) => what.startsWith('send '))"
FLOOD = """(callId) => {
  for (let i = 0; i < 2000; i++) emitEvent('vc_signal', { kind: 'media_up', call_id: callId });
}"""


def talking(alice: Person, bob: Person) -> str:
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    return alice.page.url.rsplit('/', 1)[-1]


def test_a_real_calls_signaling_stays_far_below_the_limit(vc_server: AppServer, people) -> None:
    alice, bob = people(2)
    talking(alice, bob)
    for person in (alice, bob):
        sent = person.page.evaluate(SENT)
        assert 0 < len(sent) <= Limits().signal_burst // 10, sent
    assert 'Rate limited' not in vc_server.log_text()


def test_a_tab_flooding_signals_is_told_once_and_the_call_goes_on(vc_server: AppServer, people) -> None:
    alice, bob = people(2)
    call_id = talking(alice, bob)
    bob.page.evaluate(FLOOD, call_id)
    vc_server.wait_for_log(f'⚠️ Rate limited: signaling from {bob.name} (1 dropped')
    expect(bob.page.get_by_text(DROPPED)).to_be_visible()
    time.sleep(1)  # the whole flood has arrived: still one message and one log line
    expect(bob.page.get_by_text(DROPPED)).to_have_count(1)
    assert vc_server.log_text().count('Rate limited: signaling') == 1
    expect(alice.page.get_by_text(DROPPED)).to_have_count(0)
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
