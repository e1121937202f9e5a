"""What real people and networks do mid-call: close a tab, restart the server, use several tabs."""

import pytest
from playwright.sync_api import expect

from voiceconnect.testing.probes import wait_for_tone

from .conftest import accept, call
from .test_persistence import wait_for_rows


@pytest.mark.parametrize('vc_settings', [{'RECONNECT_GRACE_S': 3}], indirect=True)
def test_tab_closed_mid_call_ends_it_as_connection_lost_after_the_grace(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    alice.page.close()
    expect(bob.page.get_by_text(f'Reconnecting… {alice.name} lost the connection')).to_be_visible()
    expect(bob.page.get_by_text('Call ended')).to_be_visible(timeout=15_000)
    expect(bob.page.get_by_text(f'connection lost: {alice.name} went away')).to_be_visible()
    vc_server.wait_for_log(f'👋 User disconnected: {alice.name}')
    expect(bob.page.get_by_role('button', name=f'Call {alice.name}')).to_have_count(0)
    wait_for_rows(vc_server, [(alice.name, bob.name, 1, 1, 'connection_lost')])


def test_server_restart_brings_tabs_back_signed_in_and_says_what_happened(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    vc_server.restart()
    for person in (alice, bob):
        expect(person.page.get_by_text('Connected', exact=True)).to_be_visible(timeout=15_000)
        expect(person.page.get_by_text(f'Signed in as {person.name}')).to_be_visible()
        expect(person.page.get_by_text('the server restarted', exact=False).first).to_be_visible()
    wait_for_rows(vc_server, [(alice.name, bob.name, 1, 1, 'server_restart')])


def test_every_tab_rings_the_first_answer_wins_and_logout_is_per_browser(vc_server, people) -> None:
    alice, bob = people(2)
    bob_tab2 = bob.context.new_page()  # the same browser: starts as bob
    bob_tab2.goto(vc_server.url + '/')
    expect(bob_tab2.get_by_text(f'Signed in as {bob.name}')).to_be_visible()
    bob_phone = bob.browser.new_context().new_page()  # another "device" of bob
    bob_phone.goto(vc_server.url + '/login')
    bob_phone.get_by_label('Username').fill(bob.name)
    bob_phone.get_by_label('Password').fill(bob.password)
    bob_phone.get_by_role('button', name='Sign in').click()
    expect(bob_phone.get_by_text(f'Signed in as {bob.name}')).to_be_visible()
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_have_count(1)  # listed once

    call(alice, bob)
    for page in (bob_tab2, bob_phone):
        expect(page.get_by_role('dialog')).to_contain_text(alice.name)
    bob_phone.get_by_role('dialog').get_by_role('button', name='Accept').click()
    for page in (bob.page, bob_tab2):
        expect(page.get_by_role('dialog')).to_be_hidden(timeout=2_000)
        expect(page.get_by_text('answered in another tab')).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz)
    bob_phone.get_by_role('button', name='Hang up').click()
    alice.page.get_by_role('button', name='Back to dashboard').click()

    bob_tab2.get_by_role('button', name='Log out').click()
    for page in (bob.page, bob_tab2):  # every tab of this browser where bob was signed in
        expect(page.get_by_label('Username')).to_be_visible()
    expect(bob_phone.get_by_text(f'Signed in as {bob.name}')).to_be_visible()  # his other browser stays
    expect(bob_phone.get_by_text('Connected', exact=True)).to_be_visible()
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_have_count(1)


def test_sigterm_ends_the_call_and_tells_both_tabs_before_their_sockets_close(vc_server, people) -> None:
    """A service manager stops the server: both people see at once that the call ended because of it (not a
    "Reconnecting…" that never resolves if the server stays down), and the history has it."""
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    vc_server.stop()  # SIGTERM, and wait for the process to end
    for person in (alice, bob):
        expect(person.page.get_by_text('the server restarted', exact=False).first).to_be_visible(timeout=5_000)
    assert '🛑 VoiceConnect stopped (calls ended)' in vc_server.log_text()
    assert 'Traceback' not in vc_server.log_text()
    vc_server.start()
    wait_for_rows(vc_server, [(alice.name, bob.name, 1, 1, 'server_restart')])
