"""Usable by everyone: axe-core finds no serious or critical WCAG 2.1 A/AA violation in any page or state (in real
Chromium); a whole call works with the keyboard alone; a screen reader hears the call's moments through live regions.
"""

import re

from playwright.sync_api import Locator, Page, expect

from voiceconnect.testing.accessibility import Violation, announcements, audit
from voiceconnect.testing.browser import Person
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call, missed_call


class Audits:
    """Every state's findings, so one run reports them all (and the first one does not hide the others)."""

    def __init__(self) -> None:
        self.found: dict[str, list[Violation]] = {}

    def check(self, page: Page, state: str, skip: tuple[str, ...] = ()) -> None:
        self.found[state] = audit(page, skip=skip)

    def assert_none(self) -> None:
        failing = {state: found for state, found in self.found.items() if found}
        counts = ', '.join(f'{state}: {len(found)}' for state, found in self.found.items())
        assert not failing, f'serious/critical violations per state ({counts})\n' + '\n'.join(
            f'{state}:\n' + '\n'.join(f'  {violation}' for violation in found) for state, found in failing.items()
        )


def wait_for_dashboard(person: Person, other: Person) -> None:
    expect(person.page.get_by_role('button', name=f'Call {other.name}')).to_be_visible()


def test_axe_finds_nothing_serious_in_any_page_or_state(vc_server, people) -> None:
    alice, bob = people(2)
    audits = Audits()

    signed_out = alice.browser.new_context().new_page()
    signed_out.goto(vc_server.url + '/login')
    expect(signed_out.get_by_label('Username')).to_be_visible()
    audits.check(signed_out, 'sign-in page')
    signed_out.context.close()

    wait_for_dashboard(alice, bob)
    audits.check(alice.page, 'dashboard, nobody called yet')

    missed_call(alice, bob)
    expect(bob.page.get_by_role('status', name='Missed calls')).to_be_visible()
    audits.check(bob.page, 'dashboard with a missed-call notice and badge')

    call(alice, bob)
    audits.check(alice.page, 'call page, ringing (caller)')
    # axe misjudges colours under a Quasar dialog: it lays the dialog's backdrop (z-index -1 in the dialog's own
    # stacking context) over the dialog's buttons and judges what lies behind the backdrop as if it were visible
    # (axe-core issues 3464 and 4441). The same theme colours are judged on every other page; all else runs here.
    audits.check(bob.page, 'incoming-call dialog', skip=('color-contrast',))

    accept(alice, bob)
    expect(alice.page.get_by_role('button', name='Hang up')).to_be_visible()
    audits.check(alice.page, 'call page, active')
    bob.page.get_by_role('link', name='VoiceConnect').click()
    expect(bob.page.get_by_role('button', name='Return to call')).to_be_visible()
    audits.check(bob.page, 'dashboard with the ongoing-call bar')

    alice.page.get_by_role('button', name='Audio settings').click()
    expect(alice.page.get_by_role('dialog', name='Audio settings')).to_be_visible()
    audits.check(alice.page, 'audio settings dialog')
    alice.page.get_by_role('button', name='Close').click()
    expect(alice.page.get_by_role('dialog', name='Audio settings')).to_be_hidden()

    alice.page.get_by_role('button', name='Hang up').click()
    expect(alice.page.get_by_text('Call ended')).to_be_visible()
    audits.check(alice.page, 'call page, ended')

    alice.page.get_by_role('button', name='Back to dashboard').click()
    expect(alice.page.get_by_role('button', name=f'Call back {bob.name}').first).to_be_visible()
    audits.check(alice.page, 'dashboard with people and recent calls')
    audits.assert_none()


# --- the whole call by keyboard, heard through the live regions ---------------------------------------------------

TIMER = re.compile(r'\b\d+:\d\d\b')


def tab_to(page: Page, control: Locator, presses: int = 40) -> None:
    """Press Tab until `control` has the focus, as a keyboard user reaches it (no click, no focus())."""
    for _ in range(presses):
        page.keyboard.press('Tab')
        if control.evaluate('(e) => e === document.activeElement'):
            break
    expect(control).to_be_focused()


def heard(person: Person, sentence: str | re.Pattern[str]) -> None:
    """The sentence is in one of the page's live regions, as Chromium's accessibility tree has them."""

    def said() -> list[str] | None:
        texts = announcements(person.page)
        found = any(sentence.search(t) if isinstance(sentence, re.Pattern) else sentence in t for t in texts)
        return texts if found else None

    wait_until(said, lambda: f'{person.name} was not told {sentence!r}; live regions: {announcements(person.page)}')


def test_a_whole_call_by_keyboard_alone_is_announced_to_a_screen_reader(vc_server, people) -> None:
    alice, bob = people(2)
    a, b = alice.page, bob.page

    search = a.get_by_label('Search people')
    tab_to(a, search)
    a.keyboard.type('m?')  # letters typed in a text box, not shortcuts
    expect(search).to_have_value('m?')
    expect(a.get_by_role('dialog', name='Keyboard shortcuts')).to_be_hidden()
    a.keyboard.press('Tab')  # out of the text box, `?` is the shortcut
    focused = a.evaluate('() => document.activeElement.outerHTML')
    a.keyboard.press('?')
    shortcuts = a.get_by_role('dialog', name='Keyboard shortcuts')
    expect(shortcuts).to_be_visible()
    expect(shortcuts).to_contain_text('Push to talk (when Push to talk is on)')
    a.keyboard.press('Escape')
    expect(shortcuts).to_be_hidden()
    assert a.evaluate('() => document.activeElement.outerHTML') == focused  # the focus is back where it was

    # a call declined with Escape; the focus goes into the dialog and back where it was
    bob_search = b.get_by_label('Search people')
    tab_to(b, bob_search)
    tab_to(a, a.get_by_role('button', name=f'Call {bob.name}'))
    a.keyboard.press('Enter')
    expect(a.get_by_text(f'Calling {bob.name}…')).to_be_visible()
    accept_button = b.get_by_role('dialog').get_by_role('button', name='Accept')
    expect(accept_button).to_be_focused()  # the focus moved into the dialog
    heard(bob, f'Incoming call from {alice.name}')
    tab_to(b, b.get_by_role('dialog').get_by_role('button', name='Decline'), presses=3)  # Tab reaches Decline
    b.keyboard.press('Escape')
    expect(b.get_by_role('dialog')).to_be_hidden()
    expect(bob_search).to_be_focused()
    expect(a.get_by_text(f'{bob.name} declined')).to_be_visible()
    heard(alice, f'{bob.name} declined')

    # a call answered with Enter, muted with `m`, ended with Hang up
    tab_to(a, a.get_by_role('button', name='Back to dashboard'))
    a.keyboard.press('Enter')
    tab_to(a, a.get_by_role('button', name=f'Call {bob.name}'))
    a.keyboard.press('Enter')
    expect(accept_button).to_be_focused()
    b.keyboard.press('Enter')
    expect(b.get_by_text(f'In call with {alice.name}')).to_be_visible()
    heard(alice, f'Call with {bob.name} connected')
    heard(bob, f'Call with {alice.name} connected')

    tab_to(a, a.get_by_role('button', name='Mute', exact=True))
    a.keyboard.press('Enter')
    expect(a.get_by_role('button', name='Unmute')).to_be_visible()
    expect(b.get_by_text(f'{alice.name} is muted')).to_be_visible()
    a.keyboard.press('m')  # the shortcut, wherever the focus is (not in a text box)
    expect(a.get_by_role('button', name='Mute', exact=True)).to_be_visible()
    expect(b.get_by_text(f'{alice.name} is muted')).to_be_hidden()
    b.keyboard.press('m')
    expect(a.get_by_text(f'{bob.name} is muted')).to_be_visible()

    expect(a.get_by_role('timer')).to_have_text(re.compile(r'^0:0[2-9]$'))  # seconds went by: none was announced
    assert not any(TIMER.search(text) or 'left to answer' in text for text in announcements(a) + announcements(b))

    tab_to(a, a.get_by_role('button', name='Hang up'))
    a.keyboard.press('Enter')
    expect(a.get_by_text('Call ended')).to_be_visible()
    heard(alice, re.compile(r'Call ended, 0:\d\d'))
    heard(bob, re.compile(r'Call ended, 0:\d\d'))

    # a missed call
    tab_to(a, a.get_by_role('button', name='Back to dashboard'))
    a.keyboard.press('Enter')
    tab_to(a, a.get_by_role('button', name=f'Call {bob.name}'))
    a.keyboard.press('Enter')
    expect(accept_button).to_be_focused()
    tab_to(a, a.get_by_role('button', name='Cancel'))
    a.keyboard.press('Enter')
    heard(bob, f'Missed call from {alice.name}')

    # the connection going and coming back
    bob.context.set_offline(True)
    heard(bob, 'Reconnecting…')
    bob.context.set_offline(False)
    heard(bob, 'Connection back')
