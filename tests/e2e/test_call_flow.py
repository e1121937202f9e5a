"""The product loop in real browsers: accounts, presence, ringing, voice, mute, navigation, hang-up."""

import re

import pytest
from playwright.sync_api import Frame, expect

from voiceconnect.testing.probes import is_playing, wait_for_silence, wait_for_tone
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call, expect_call_ended


def test_original_plan_two_tabs_of_one_browser_are_two_people(vc_server, people) -> None:
    """Alice in tab 1, Bob in tab 2 of the same browser: one calls the other, it rings, they connect."""
    (alice,) = people(1)
    tab2 = alice.context.new_page()
    tab2.goto(vc_server.url + '/')
    expect(tab2.get_by_text(f'Signed in as {alice.name}')).to_be_visible()  # a new tab starts as the last account
    tab2.get_by_role('button', name='Switch account').click()
    tab2.get_by_label('Username').fill('bob_tab2')
    tab2.get_by_label('Password').fill('bob password')
    tab2.get_by_role('button', name='Create account').click()
    expect(tab2.get_by_text('Signed in as bob_tab2')).to_be_visible()
    expect(alice.page.get_by_text(f'Signed in as {alice.name}')).to_be_visible()  # tab 1 is still Alice

    alice.page.get_by_role('button', name='Call bob_tab2').click()
    expect(tab2.get_by_role('dialog')).to_contain_text(alice.name)
    tab2.get_by_role('dialog').get_by_role('button', name='Accept').click()
    expect(tab2.get_by_text(f'In call with {alice.name}')).to_be_visible()
    expect(alice.page.get_by_text('In call with bob_tab2')).to_be_visible()
    # one browser has one fake microphone, so both tabs carry the same tone: each must hear it from the peer
    wait_for_tone(alice.page, alice.tone_hz)
    wait_for_tone(tab2, alice.tone_hz)
    vc_server.wait_for_log(f'✅ Call answered: {alice.name} → bob_tab2')


def test_call_rings_connects_carries_voice_survives_navigation_and_ends(vc_server, people) -> None:
    alice, bob = people(2)
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_be_visible()
    expect(bob.page.get_by_role('button', name=f'Call {alice.name}')).to_be_visible()

    call(alice, bob)
    vc_server.wait_for_log(f'📞 Call initiated: {alice.name} → {bob.name}')
    wait_until(lambda: is_playing(bob.page, 'vc-ringtone'), 'the callee hears the ringtone')
    wait_until(lambda: is_playing(alice.page, 'vc-ringback'), 'the caller hears the ringback tone')

    accept(alice, bob)
    vc_server.wait_for_log(f'✅ Call answered: {alice.name} → {bob.name}')
    wait_until(lambda: not is_playing(bob.page, 'vc-ringtone'), 'the ringtone stops on answer')
    wait_for_tone(alice.page, bob.tone_hz)  # Alice hears Bob's tone, not her own
    wait_for_tone(bob.page, alice.tone_hz)
    expect(alice.page.get_by_role('timer')).to_have_text(re.compile(r'^\d+:\d\d$'))

    bob.page.get_by_role('button', name='Mute', exact=True).click()
    expect(alice.page.get_by_text(f'{bob.name} is muted')).to_be_visible()
    wait_for_silence(alice.page)
    bob.page.get_by_role('button', name='Unmute').click()
    expect(alice.page.get_by_text(f'{bob.name} is muted')).to_be_hidden()
    wait_for_tone(alice.page, bob.tone_hz)

    call_url = alice.page.url
    for round_trip in range(20):  # links, the bar's button, browser back and forward: nobody disconnects
        if round_trip % 2:
            alice.page.go_back()
            expect(alice.page.get_by_text('Online now')).to_be_visible()
            alice.page.go_forward()
        else:
            alice.page.get_by_role('link', name='VoiceConnect').click()
            expect(alice.page.get_by_text('Online now')).to_be_visible()
            expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()  # the ongoing-call bar
            expect(alice.page).to_have_url(vc_server.url + '/')
            alice.page.get_by_role('button', name='Return to call').click()
        expect(alice.page.get_by_role('button', name='Hang up')).to_be_visible()
        expect(alice.page).to_have_url(call_url)
        expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    wait_for_tone(bob.page, alice.tone_hz)
    wait_for_tone(alice.page, bob.tone_hz)
    assert 'User disconnected' not in vc_server.log_text()
    assert 'Call ended' not in vc_server.log_text()

    alice.page.get_by_role('button', name='Hang up').click()
    expect_call_ended(alice.page)
    expect_call_ended(bob.page)
    vc_server.wait_for_log('📴 Call ended: ')

    bob.page.get_by_role('button', name='Back to dashboard').click()
    bob.page.get_by_role('button', name='Log out').click()
    expect(bob.page.get_by_label('Username')).to_be_visible()
    vc_server.wait_for_log(f'👋 User disconnected: {bob.name}')
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_have_count(0)


def test_decline_tells_the_caller(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    bob.page.get_by_role('dialog').get_by_role('button', name='Decline').click()
    expect(alice.page.get_by_text(f'{bob.name} declined')).to_be_visible()
    expect(bob.page.get_by_role('dialog')).to_be_hidden()
    vc_server.wait_for_log(f'Call declined: {alice.name} → {bob.name}')


def test_caller_hangs_up_while_ringing_callee_sees_missed_call(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    alice.page.get_by_role('button', name='Cancel').click()
    expect(bob.page.get_by_role('dialog')).to_be_hidden()
    expect(bob.page.get_by_text(f'Missed call from {alice.name}')).to_be_visible()
    wait_until(lambda: not is_playing(bob.page, 'vc-ringtone'), 'the ringtone stops')
    vc_server.wait_for_log(f'Call cancelled: {alice.name} → {bob.name}')


def test_busy_callee_keeps_their_call(vc_server, people) -> None:
    alice, bob, carol = people(3)
    call(alice, bob)
    accept(alice, bob)
    expect(carol.page.get_by_text('In a call')).to_have_count(2)
    carol.page.get_by_role('button', name=f'Call {bob.name}').click()
    expect(carol.page.get_by_text(f'{bob.name} is busy')).to_be_visible()
    vc_server.wait_for_log(f'Call busy: {carol.name} → {bob.name}')
    expect(bob.page.get_by_role('dialog')).to_be_hidden()
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    wait_for_tone(bob.page, alice.tone_hz)


@pytest.mark.parametrize('vc_settings', [{'RING_TIMEOUT_S': 3}], indirect=True)
def test_unanswered_call_becomes_no_answer(vc_server, people, vc_settings) -> None:
    alice, bob = people(2)
    call(alice, bob)
    expect(alice.page.get_by_text('No answer')).to_be_visible(timeout=vc_settings['RING_TIMEOUT_S'] * 1000 + 10_000)
    expect(bob.page.get_by_text(f'Missed call from {alice.name}')).to_be_visible()
    vc_server.wait_for_log(f'Call missed: {alice.name} → {bob.name}')


def test_glare_leaves_exactly_one_connected_call(vc_server, people) -> None:
    alice, bob = people(2)
    alice_button = alice.page.get_by_role('button', name=f'Call {bob.name}')
    bob_button = bob.page.get_by_role('button', name=f'Call {alice.name}')
    alice_button.dispatch_event('click')  # both click at the same moment: no waiting between the two clicks
    bob_button.dispatch_event('click')
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    expect(bob.page.get_by_text(f'In call with {alice.name}')).to_be_visible()
    expect(alice.page.get_by_role('dialog')).to_be_hidden()
    expect(bob.page.get_by_role('dialog')).to_be_hidden()
    wait_for_tone(alice.page, bob.tone_hz)
    wait_for_tone(bob.page, alice.tone_hz)
    assert vc_server.log_text().count('📞 Call initiated') == 1


def test_refused_microphone_ends_the_call_with_a_message(vc_server, people) -> None:
    alice, bob = people(2)
    bob.page.evaluate(
        """() => { navigator.mediaDevices.getUserMedia = () =>
            Promise.reject(new DOMException('denied by the test', 'NotAllowedError')); }"""
    )
    call(alice, bob)
    bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
    expect(bob.page.get_by_text('Microphone access was refused.')).to_be_visible()
    expect(alice.page.get_by_text('Microphone access was refused.')).to_be_visible()
    vc_server.wait_for_log('Media failed')


def test_log_out_loads_the_sign_in_page_once(vc_server, people) -> None:
    """Log out shows the sign-in page once: the session's end takes the tab there, and nothing loads it again after
    (a second load would flash the page and lose what was typed into the first), and the page shown is one to sign in
    from again."""
    (alice,) = people(1)
    page = alice.page
    to_login: list[str] = []  # the tab's navigations to /login: document loads and in-app ones alike

    def navigated(frame: Frame) -> None:
        if frame == page.main_frame and frame.url.endswith('/login'):
            to_login.append(frame.url)

    page.on('framenavigated', navigated)
    with page.expect_response(lambda response: response.url.endswith('/session/renew')):
        page.get_by_role('button', name='Log out').click()  # the browser's new id comes with this response
    expect(page.get_by_label('Username')).to_be_visible()
    vc_server.wait_for_log(f'👋 User disconnected: {alice.name}')
    page.wait_for_load_state()
    page.wait_for_timeout(1_000)  # time for a second load (Log out's reload came right after the response)
    assert to_login == [vc_server.url + '/login']

    page.get_by_label('Username').fill(alice.name)
    page.get_by_label('Password').fill(alice.password)
    page.get_by_role('button', name='Sign in').click()
    expect(page.get_by_text(f'Signed in as {alice.name}')).to_be_visible()
    page.reload()  # the sign-in went to the browser's new id, which the page followed
    expect(page.get_by_text(f'Signed in as {alice.name}')).to_be_visible()
