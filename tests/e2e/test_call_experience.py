"""The call experience in real Chromium (fake devices): recent calls and the missed badge across tabs, anyone by name
and do not disturb, audio settings with a live level meter and a microphone switch mid-call, who is speaking and
how good the line is, and a ring in a hidden tab."""

import re

from playwright.sync_api import Page, expect

from voiceconnect.testing.browser import Person, peek, sign_in
from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call

SENT_TRACK_ID = """(() => {
  const call = [...vc.calls.values()][0];
  return call.legs.get(call.answeredLeg).pc.getSenders()[0].track.id;
})()"""


def recent(page: Page):
    """The Recent calls list (after its heading)."""
    return page.locator('#vc-recent-calls + *')


def mic_level(page: Page) -> float:
    return float(peek(page, 'document.getElementById("vc-mic-level").value'))


def test_recent_calls_missed_badge_across_tabs_and_call_back(vc_server, people) -> None:
    alice, bob = people(2)
    bob_tab2 = bob.context.new_page()
    bob_tab2.goto(vc_server.url + '/')
    expect(bob_tab2.get_by_text(f'Signed in as {bob.name}')).to_be_visible()
    expect(recent(alice.page)).to_contain_text('No calls yet.')

    call(alice, bob)  # declined: a row for both, at once
    bob.page.get_by_role('dialog').get_by_role('button', name='Decline').click()
    expect(recent(bob.page)).to_contain_text('Declined')
    expect(recent(bob.page)).to_contain_text('Incoming · just now')
    expect(alice.page.get_by_text(f'{bob.name} declined')).to_be_visible()
    alice.page.get_by_role('button', name='Back to dashboard').click()
    expect(recent(alice.page)).to_contain_text('Outgoing · just now')

    call(alice, bob)  # cancelled while ringing: a missed call, counted in every tab of bob's
    alice.page.get_by_role('button', name='Cancel').click()
    for page in (bob.page, bob_tab2):
        expect(page.get_by_role('button', name='1 missed')).to_be_visible()
    expect(recent(bob.page).get_by_text('Missed', exact=True)).to_be_visible()
    bob_tab2.get_by_role('button', name='1 missed').click()
    for page in (bob.page, bob_tab2):
        expect(page.get_by_role('button', name='1 missed')).to_be_hidden()
    bob.page.reload()  # stored, not per page
    expect(bob.page.get_by_text('Recent calls')).to_be_visible()
    expect(bob.page.get_by_role('button', name='1 missed')).to_be_hidden()

    alice.page.get_by_role('button', name='Back to dashboard').click()
    bob.page.get_by_role('button', name=f'Call back {alice.name}').first.click()  # Call back rings alice
    expect(alice.page.get_by_role('dialog')).to_contain_text(bob.name)
    accept(bob, alice)
    bob.page.get_by_role('button', name='Hang up').click()
    expect(alice.page.get_by_text('Call ended')).to_be_visible()
    alice.page.get_by_role('button', name='Back to dashboard').click()
    expect(recent(alice.page).locator('.q-item').first).to_contain_text(re.compile(r'\d+:\d\d'))
    expect(recent(alice.page).locator('.q-item')).to_have_count(3)


def test_search_calls_someone_offline_and_do_not_disturb(vc_server, people) -> None:
    alice, bob, carol = people(3)
    carol.page.get_by_role('button', name='Log out').click()
    expect(carol.page.get_by_label('Username')).to_be_visible()
    expect(alice.page.get_by_role('button', name=f'Call {carol.name}')).to_have_count(0)

    alice.page.get_by_label('Search people').fill(carol.name[:4].upper())
    expect(alice.page.get_by_text('Offline', exact=True)).to_be_visible()
    alice.page.get_by_role('button', name=f'Call {carol.name}').click()
    expect(alice.page.get_by_text(f'{carol.name} is offline')).to_be_visible()
    vc_server.wait_for_log(f'Call to someone offline: {alice.name} → {carol.name}')
    sign_in(carol.page, vc_server.url, carol.name, carol.password)
    expect(carol.page.get_by_role('button', name='1 missed')).to_be_visible()
    expect(recent(carol.page)).to_contain_text('Missed')

    bob.page.get_by_role('switch', name='Do not disturb').click()
    alice.page.get_by_role('button', name='Back to dashboard').click()
    expect(alice.page.locator('.q-badge', has_text='Do not disturb')).to_be_visible()
    alice.page.get_by_role('button', name=f'Call {bob.name}', exact=True).click()
    expect(alice.page.get_by_text(f'{bob.name} is not taking calls')).to_be_visible()
    expect(bob.page.get_by_role('button', name='1 missed')).to_be_visible()
    expect(bob.page.get_by_role('dialog')).to_be_hidden()
    bob.page.reload()  # remembered for the user
    expect(bob.page.get_by_role('switch', name='Do not disturb')).to_be_checked()


def test_audio_settings_level_meter_speaking_connection_and_switching_the_microphone_mid_call(
    vc_server, people
) -> None:
    alice, bob = people(2)
    alice.page.get_by_role('button', name='Audio settings').click()
    dialog = alice.page.get_by_role('dialog', name='Audio settings')
    expect(dialog.get_by_label('Microphone', exact=True)).to_be_visible()
    expect(dialog.get_by_label('Speaker', exact=True)).to_be_attached()
    expect(dialog.get_by_role('meter', name='Microphone level')).to_be_visible()
    wait_until(lambda: mic_level(alice.page) > 0.3, 'the level meter rises with the fake microphone tone')
    microphones = dialog.get_by_label('Microphone', exact=True).locator('option').all_inner_texts()
    assert len(microphones) >= 2, microphones  # Default and the fake devices
    dialog.get_by_role('button', name='Close').click()
    expect(dialog).to_be_hidden()

    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(bob.page, alice.tone_hz)
    expect(alice.page.get_by_label('You are speaking')).to_be_visible()
    expect(alice.page.get_by_label(f'{bob.name} is speaking')).to_be_visible()
    expect(alice.page.get_by_text('Good connection')).to_be_visible(timeout=10_000)
    assert 'round trip' in (alice.page.locator('#vc-quality').get_attribute('title') or '')

    alice.page.get_by_role('button', name='Mute', exact=True).click()
    expect(bob.page.get_by_label(f'{alice.name} is speaking')).to_be_hidden()
    expect(alice.page.get_by_label('You are speaking')).to_be_hidden()
    alice.page.get_by_role('button', name='Audio settings').click()
    wait_until(lambda: mic_level(alice.page) < 0.05, 'the level meter falls when muted')
    dialog.get_by_role('button', name='Close').click()
    alice.page.get_by_role('button', name='Unmute').click()
    alice.page.get_by_role('button', name='Audio settings').click()
    wait_until(lambda: mic_level(alice.page) > 0.3, 'the level meter rises again')

    before = peek(alice.page, SENT_TRACK_ID)
    select = dialog.get_by_label('Microphone', exact=True)
    other = select.locator('option').nth(2).get_attribute('value')
    select.select_option(other)
    wait_until(lambda: 'microphone switched' in str(peek(alice.page, 'JSON.stringify(vc.trace)')), 'switched')
    assert peek(alice.page, SENT_TRACK_ID) != before  # another device's track on the same sender
    wait_for_tone(bob.page, alice.tone_hz)  # the peer still hears the tone, no renegotiation
    assert peek(alice.page, 'localStorage.getItem("vc-microphone")') == other
    dialog.get_by_role('button', name='Close').click()
    expect(bob.page.get_by_label(f'{alice.name} is speaking')).to_be_visible()

    # the chosen microphone is unplugged mid-call: the default one takes over, and the person is told
    chosen_track = peek(alice.page, SENT_TRACK_ID)
    peek(alice.page, 'localStorage.setItem("vc-microphone", "unplugged-device")')
    peek(alice.page, 'navigator.mediaDevices.dispatchEvent(new Event("devicechange"))')
    expect(alice.page.get_by_role('alert')).to_contain_text('Your microphone was disconnected')
    wait_until(lambda: peek(alice.page, SENT_TRACK_ID) != chosen_track, 'the default microphone is sent')
    assert peek(alice.page, 'localStorage.getItem("vc-microphone")') is None
    wait_for_tone(bob.page, alice.tone_hz)


def _hide(person: Person) -> None:
    """The tab goes to the background (headless Chromium keeps every page visible, so the page is told so), and
    notifications it creates are noted."""
    peek(
        person.page,
        """(() => {
          Object.defineProperty(document, 'hidden', { configurable: true, get: () => true });
          Object.defineProperty(document, 'visibilityState', { configurable: true, get: () => 'hidden' });
          const Real = window.Notification;
          window.__notes = [];
          window.Notification = class extends Real {
            constructor(title, options) { super(title, options); window.__notes.push([title, options.body]); }
          };
        })()""",
    )


def test_a_ring_in_a_hidden_tab_notifies_and_names_the_caller_in_the_title(vc_server, people) -> None:
    alice, bob = people(2)
    bob.context.grant_permissions(['notifications'], origin=vc_server.url)
    title = bob.page.title()
    _hide(bob)
    call(alice, bob)
    expect(bob.page).to_have_title(re.compile(re.escape(alice.name)))
    wait_until(lambda: peek(bob.page, 'window.__notes') == [['Incoming call', f'{alice.name} is calling you']], 'note')
    alice.page.get_by_role('button', name='Cancel').click()
    expect(bob.page).to_have_title(title)
