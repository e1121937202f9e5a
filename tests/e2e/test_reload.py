"""A reload is not a hang-up: the reloaded tab takes its call back and voice flows again."""

import re

from playwright.sync_api import expect

from voiceconnect.testing.probes import wait_for_tone

from .conftest import accept, call

TIMER = re.compile(r'^(\d+):(\d\d)$')


def seconds(timer_text: str) -> int:
    match = TIMER.match(timer_text)
    assert match, timer_text
    return int(match[1]) * 60 + int(match[2])


def test_caller_reloads_mid_call_and_the_call_resumes(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)
    expect(alice.page.get_by_role('timer')).to_have_text(re.compile(r'^0:0[2-9]$'))
    before = seconds(alice.page.get_by_role('timer').inner_text())

    alice.page.reload()
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    assert seconds(alice.page.get_by_role('timer').inner_text()) >= before  # the timer runs from the answer
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    vc_server.wait_for_log(f'Call resumed after a reload: {alice.name}')
    log = vc_server.log_text()
    assert 'User disconnected' not in log and 'Call ended' not in log


def test_callee_reloads_mid_call_and_the_call_resumes(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(bob.page, alice.tone_hz)
    bob.page.reload()
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    wait_for_tone(bob.page, alice.tone_hz)
    wait_for_tone(alice.page, bob.tone_hz)
    vc_server.wait_for_log(f'Call resumed after a reload: {bob.name}')


def test_callee_reloads_while_ringing_and_can_still_answer(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    bob.page.reload()
    dialog = bob.page.get_by_role('dialog')
    expect(dialog).to_contain_text(alice.name)
    expect(dialog).to_contain_text(re.compile(r'\d+ s left to answer'))  # still ringing, with the time left
    dialog.get_by_role('button', name='Accept').click()
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    assert vc_server.log_text().count('Call initiated') == 1
