"""Notices in real Chromium: a missed call is one notice below the header, never over a control; it offers
`Call back <name>` and `Recent calls`, coalesces, and goes away on every tab once the missed calls are seen. No
notice covers `Hang up`, `Accept`, `Log out` or the missed badge, on a desktop window or on a phone."""

import re

import pytest
from playwright.sync_api import expect

from voiceconnect.testing.browser import peek

from .conftest import DESKTOP, PHONE, accept, call, covering, missed_call, missed_notice, open_menu_if_folded


def test_the_missed_badge_is_clickable_the_moment_the_notice_appears(vc_server, people) -> None:
    alice, bob = people(2)
    bob_tab2 = bob.context.new_page()
    bob_tab2.goto(vc_server.url + '/')
    expect(bob_tab2.get_by_text(f'Signed in as {bob.name}')).to_be_visible()
    call(alice, bob)  # an earlier call: bob stays on its "Call ended" page, away from the dashboard
    accept(alice, bob)
    alice.page.get_by_role('button', name='Hang up').click()
    expect(bob.page.get_by_text('Call ended')).to_be_visible()

    alice.page.get_by_role('button', name='Back to dashboard').click()
    missed_call(alice, bob)
    expect(bob.page.get_by_text(f'Missed call from {alice.name}')).to_be_visible()
    badge = bob.page.get_by_role('button', name='1 missed')
    assert covering(badge) == []
    badge.click(timeout=3_000)  # at once: nothing to dismiss first (the bound leaves room for a busy machine)

    for page in (bob.page, bob_tab2):  # seen in one tab: gone from every tab
        expect(page.get_by_role('button', name='1 missed')).to_be_hidden()
        expect(page.get_by_text(f'Missed call from {alice.name}')).to_be_hidden()
    expect(bob.page.get_by_role('heading', name='Recent calls')).to_be_in_viewport()


def test_call_back_on_the_missed_call_notice_rings_the_caller(vc_server, people) -> None:
    alice, bob = people(2)
    missed_call(alice, bob)
    notice = missed_notice(bob.page)
    expect(notice).to_contain_text(f'Missed call from {alice.name}')
    notice.get_by_role('button', name=f'Call back {alice.name}').click()
    expect(bob.page.get_by_text(f'Calling {alice.name}…')).to_be_visible()
    expect(alice.page.get_by_role('dialog')).to_contain_text(bob.name)
    expect(notice).to_be_hidden()  # acted on: the missed call is seen
    expect(bob.page.get_by_role('button', name='1 missed')).to_be_hidden()
    accept(bob, alice)


def test_two_missed_calls_give_one_notice(vc_server, people) -> None:
    alice, bob, carol = people(3)
    missed_call(alice, bob)
    expect(bob.page.get_by_text(f'Missed call from {alice.name}')).to_be_visible()
    missed_call(carol, bob)

    expect(bob.page.get_by_text(re.compile('missed call', re.IGNORECASE))).to_have_count(1)  # nothing stacked
    notice = missed_notice(bob.page)
    expect(notice).to_contain_text(f'2 missed calls: {alice.name}, {carol.name}')
    expect(bob.page.get_by_role('button', name='2 missed')).to_be_visible()
    for caller in (alice, carol):
        expect(notice.get_by_role('button', name=f'Call back {caller.name}')).to_be_visible()
    notice.get_by_role('button', name='Recent calls').click()
    expect(notice).to_be_hidden()
    expect(bob.page.get_by_role('button', name='2 missed')).to_be_hidden()
    expect(bob.page.get_by_role('heading', name='Recent calls')).to_be_in_viewport()


@pytest.mark.parametrize('window', [DESKTOP, PHONE], ids=['desktop', 'phone'])
def test_no_notice_covers_hang_up_accept_log_out_or_the_missed_badge(vc_server, people, window) -> None:
    alice, bob, carol = people(3)
    bob.page.set_viewport_size(window)
    missed_call(alice, bob)  # the missed-call notice, shown until the missed calls are seen
    expect(bob.page.get_by_text(f'Missed call from {alice.name}')).to_be_visible()
    assert covering(bob.page.get_by_role('button', name='1 missed')) == []
    assert covering(bob.page.get_by_role('link', name='VoiceConnect')) == []  # the way to the dashboard
    open_menu_if_folded(bob.page)
    assert covering(bob.page.get_by_role('button', name='Log out')) == []
    bob.page.keyboard.press('Escape')

    open_menu_if_folded(bob.page)  # two short notices at once, then a ring while they are shown
    dnd = bob.page.get_by_role('switch', name='Do not disturb')
    dnd.click()
    expect(dnd).to_be_checked()
    dnd.click()
    expect(bob.page.get_by_text('You take calls again')).to_be_visible()
    bob.page.keyboard.press('Escape')
    call(carol, bob)
    assert covering(bob.page.get_by_role('dialog').get_by_role('button', name='Accept')) == []

    accept(carol, bob)
    expect(bob.page.locator('.q-dialog__backdrop')).to_have_count(0)  # the dialog has faded out
    peek(bob.page, 'localStorage.setItem("vc-microphone", "unplugged-device")')  # the device note, for real
    peek(bob.page, 'navigator.mediaDevices.dispatchEvent(new Event("devicechange"))')
    expect(bob.page.get_by_text('Your microphone was disconnected')).to_be_visible()
    peek(bob.page, 'document.getElementById("vc-sound-blocked").hidden = false')  # as when autoplay is refused
    for control in ('Hang up', '1 missed'):
        assert covering(bob.page.get_by_role('button', name=control)) == [], control
    open_menu_if_folded(bob.page)
    assert covering(bob.page.get_by_role('button', name='Log out')) == []
    bob.page.keyboard.press('Escape')

    bob.page.get_by_role('link', name='VoiceConnect').click()  # the dashboard, with the ongoing-call bar
    expect(bob.page.get_by_role('button', name='Return to call')).to_be_visible()
    assert covering(bob.page.get_by_role('button', name='Hang up')) == []
