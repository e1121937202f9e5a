"""Voice processing and push to talk in real Chromium (fake devices): the Audio settings switches change what the
microphone track really does (its `getSettings()`), outside and during a call, kept per browser; with push to talk
the peer hears silence except while space or `Talk` is held, and Mute always wins."""

import time
from typing import Any

from playwright.sync_api import Locator, Page, expect

from voiceconnect.testing.browser import Person, peek
from voiceconnect.testing.probes import wait_for_silence, wait_for_tone
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call

PROCESSING = {
    'Noise suppression': 'noiseSuppression',
    'Echo cancellation': 'echoCancellation',
    'Automatic gain': 'autoGainControl',
}
ALL_ON = dict.fromkeys(PROCESSING, True)
# the track the call sends the peer, as Chromium says it is processed
SENT_TRACK = """(() => {
  const call = [...vc.calls.values()][0];
  const track = call.legs.get(call.answeredLeg).pc.getSenders()[0].track;
  return {id: track.id, ...track.getSettings()};
})()"""
# outside a call: the Audio settings dialog's own microphone
DIALOG_TRACK = 'vc.microphoneSettings()'
# headless Chromium keeps every page visible, so the page is told it is hidden
HIDE_TAB = (
    'Object.defineProperty(document, "hidden", {value: true, configurable: true});'
    'document.dispatchEvent(new Event("visibilitychange"))'
)
HEARD_BY_NOW_S = 0.5  # far more than a tone needs to reach the peer on loopback (tens of ms)


def processing(settings: dict[str, Any] | None) -> dict[str, bool] | None:
    return {name: settings[key] for name, key in PROCESSING.items()} if settings else None


def open_audio_settings(page: Page) -> Locator:
    page.get_by_role('button', name='Audio settings').click()
    dialog = page.get_by_role('dialog', name='Audio settings')
    expect(dialog).to_be_visible()
    return dialog


def close_audio_settings(page: Page) -> None:
    dialog = page.get_by_role('dialog', name='Audio settings')
    dialog.get_by_role('button', name='Close').click()
    expect(dialog).to_be_hidden()


def wait_for_processing(page: Page, track_js: str, expected: dict[str, bool]) -> dict[str, Any]:
    return wait_until(
        lambda: (s := peek(page, track_js)) and processing(s) == expected and s,
        lambda: f'the microphone track is not processed as {expected}: {processing(peek(page, track_js))}',
    )


def test_voice_processing_switches_apply_outside_and_during_a_call_and_are_kept_per_browser(vc_server, people) -> None:
    alice, bob = people(2)
    dialog = open_audio_settings(alice.page)
    for name in PROCESSING:
        expect(dialog.get_by_role('switch', name=name)).to_be_checked()  # the defaults: Chromium's own
    expect(dialog.get_by_role('switch', name='Push to talk')).not_to_be_checked()
    wait_for_processing(alice.page, DIALOG_TRACK, ALL_ON)

    dialog.get_by_role('switch', name='Noise suppression').uncheck()
    wait_for_processing(alice.page, DIALOG_TRACK, {**ALL_ON, 'Noise suppression': False})
    close_audio_settings(alice.page)
    alice.page.reload()  # kept per browser
    dialog = open_audio_settings(alice.page)
    expect(dialog.get_by_role('switch', name='Noise suppression')).not_to_be_checked()
    wait_for_processing(alice.page, DIALOG_TRACK, {**ALL_ON, 'Noise suppression': False})
    close_audio_settings(alice.page)

    call(alice, bob)
    accept(alice, bob)
    wait_for_tone(bob.page, alice.tone_hz)
    sent = wait_for_processing(alice.page, SENT_TRACK, {**ALL_ON, 'Noise suppression': False})
    wait_for_processing(bob.page, SENT_TRACK, ALL_ON)  # another browser, its own choices

    # mid-call: each flip is on the track the peer gets at once, and the peer goes on hearing the voice
    dialog = open_audio_settings(alice.page)
    expected = {**ALL_ON, 'Noise suppression': False}
    for name, on in (('Echo cancellation', False), ('Automatic gain', False), ('Noise suppression', True)):
        dialog.get_by_role('switch', name=name).set_checked(on)
        expected[name] = on
        now = wait_for_processing(alice.page, SENT_TRACK, expected)
        assert now['id'] != sent['id']  # a new track on the same sender: no renegotiation
        sent = now
        wait_for_tone(bob.page, alice.tone_hz)
        for shown, value in expected.items():
            expect(dialog.get_by_role('switch', name=shown)).to_be_checked(checked=value)
    close_audio_settings(alice.page)
    assert peek(alice.page, 'localStorage.getItem("vc-echo-cancellation")') == 'off'
    assert peek(alice.page, 'localStorage.getItem("vc-auto-gain")') == 'off'
    assert peek(alice.page, 'localStorage.getItem("vc-noise-suppression")') == 'on'


def hold_space(person: Person) -> None:
    person.page.keyboard.down('Space')


def let_go_of_space(person: Person) -> None:
    person.page.keyboard.up('Space')


def stays_silent(listener: Person) -> None:
    time.sleep(HEARD_BY_NOW_S)  # a tone let through would have arrived by now
    wait_for_silence(listener.page)


def test_push_to_talk_the_peer_hears_only_while_space_or_talk_is_held_and_mute_wins(vc_server, people) -> None:
    alice, bob = people(2)
    open_audio_settings(alice.page).get_by_role('switch', name='Push to talk').check()
    close_audio_settings(alice.page)
    hint = alice.page.get_by_text('Hold space to talk')
    expect(hint).to_be_hidden()  # nothing to hold outside a call

    call(alice, bob)
    accept(alice, bob)
    expect(hint).to_be_visible()
    wait_for_tone(alice.page, bob.tone_hz)  # bob, without push to talk, is heard as ever
    stays_silent(bob)
    expect(bob.page.get_by_text(f'{alice.name} is muted')).to_be_hidden()  # a mode of alice's browser, not Mute

    hold_space(alice)
    expect(alice.page.get_by_text('Talking', exact=True)).to_be_visible()
    wait_for_tone(bob.page, alice.tone_hz)
    let_go_of_space(alice)
    expect(hint).to_be_visible()
    wait_for_silence(bob.page)

    # a focused button does not take the space: holding it talks, letting go does not hang up
    alice.page.get_by_role('button', name='Hang up').focus()
    hold_space(alice)
    wait_for_tone(bob.page, alice.tone_hz)
    let_go_of_space(alice)
    wait_for_silence(bob.page)
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    alice.page.get_by_role('switch', name='Do not disturb').focus()  # nor does a focused switch flip
    hold_space(alice)
    wait_for_tone(bob.page, alice.tone_hz)
    let_go_of_space(alice)
    expect(alice.page.get_by_role('switch', name='Do not disturb')).not_to_be_checked()

    # a short notice (Do not disturb switched) stands above the Talk bar, never over it
    alice.page.get_by_role('switch', name='Do not disturb').click()
    notice = alice.page.locator('.q-notification').filter(has_text='Do not disturb')
    expect(notice).to_be_visible()
    assert_apart(notice, alice.page.get_by_role('button', name='Talk', exact=True))
    alice.page.get_by_role('switch', name='Do not disturb').click()

    # the Talk button, held with the mouse (or a finger)
    alice.page.get_by_role('button', name='Talk', exact=True).hover()
    alice.page.mouse.down()
    expect(alice.page.get_by_text('Talking', exact=True)).to_be_visible()
    wait_for_tone(bob.page, alice.tone_hz)
    alice.page.mouse.up()
    wait_for_silence(bob.page)

    # Mute wins: muted stays muted while space is held, and unmuting does not open the microphone by itself
    alice.page.get_by_role('button', name='Mute', exact=True).click()
    expect(bob.page.get_by_text(f'{alice.name} is muted')).to_be_visible()
    hold_space(alice)
    expect(alice.page.get_by_text('Muted: unmute to talk')).to_be_visible()
    stays_silent(bob)
    let_go_of_space(alice)
    alice.page.get_by_role('button', name='Unmute').click()
    expect(bob.page.get_by_text(f'{alice.name} is muted')).to_be_hidden()
    expect(hint).to_be_visible()
    stays_silent(bob)

    # leaving the window lets go (its key-up would never arrive)
    hold_space(alice)
    wait_for_tone(bob.page, alice.tone_hz)
    peek(alice.page, 'window.dispatchEvent(new Event("blur"))')
    wait_for_silence(bob.page)
    let_go_of_space(alice)
    hold_space(alice)  # so does the tab going to the background
    wait_for_tone(bob.page, alice.tone_hz)
    peek(alice.page, HIDE_TAB)
    wait_for_silence(bob.page)
    let_go_of_space(alice)
    peek(alice.page, 'delete document.hidden')  # visible again (the prototype's getter)

    # a space typed into a text box is typing: on the dashboard, the call going on
    alice.page.get_by_role('link', name='VoiceConnect').click()
    search = alice.page.get_by_role('textbox', name='Search people')
    search.click()
    hold_space(alice)
    stays_silent(bob)
    let_go_of_space(alice)
    expect(search).to_have_value(' ')
    expect(hint).to_be_visible()

    # push to talk off, mid-call: heard again without holding anything
    open_audio_settings(alice.page).get_by_role('switch', name='Push to talk').uncheck()
    close_audio_settings(alice.page)
    expect(hint).to_be_hidden()
    wait_for_tone(bob.page, alice.tone_hz)


def assert_apart(one: Locator, other: Locator) -> None:
    """Once settled (a notice slides in), the two elements' boxes do not overlap: neither covers the other."""

    def apart() -> bool:
        a, b = one.bounding_box(), other.bounding_box()
        assert a is not None and b is not None
        return (
            a['y'] + a['height'] <= b['y']
            or b['y'] + b['height'] <= a['y']
            or a['x'] + a['width'] <= b['x']
            or b['x'] + b['width'] <= a['x']
        )

    wait_until(apart, f'{one} to stand clear of {other}', timeout=3)
