"""End-to-end helpers: real Chromium per person (fake microphone tone each), the app as a subprocess; what covers a
control as a person sees it, on a desktop window or a phone's."""

import re

from playwright.sync_api import Locator, Page, expect

from voiceconnect.testing.browser import Person

DURATION = re.compile(r'^Duration \d+:\d\d$')


def call(caller: Person, callee: Person) -> None:
    """Caller clicks `Call <callee>`; the callee's incoming-call dialog names the caller."""
    caller.page.get_by_role('button', name=f'Call {callee.name}').click()
    expect(caller.page.get_by_text(f'Calling {callee.name}…')).to_be_visible()
    dialog = callee.page.get_by_role('dialog')
    expect(dialog).to_contain_text('Incoming call')
    expect(dialog).to_contain_text(caller.name)


def accept(caller: Person, callee: Person) -> None:
    callee.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
    expect(callee.page.get_by_text(f'In call with {caller.name}')).to_be_visible()
    expect(caller.page.get_by_text(f'In call with {callee.name}')).to_be_visible()


def expect_call_ended(page: Page) -> None:
    expect(page.get_by_text('Call ended')).to_be_visible()
    expect(page.get_by_text(DURATION)).to_be_visible()
    expect(page.get_by_role('button', name='Back to dashboard')).to_be_visible()


# --- notices and windows: what covers a control, a phone's window ----------------------------------------------

PHONE = {'width': 390, 'height': 844}
DESKTOP = {'width': 1280, 'height': 720}  # Playwright's default window
# everything that tells the person something over or in the page: Quasar's notifications, the missed-call notice,
# the browser module's notes
NOTICES = '.q-notification, #vc-missed-notice, #vc-sound-blocked, #vc-device-note'

COVERING = """(control, selector) => {
  const box = control.getBoundingClientRect();
  const shown = (n) => n.getClientRects().length > 0 && getComputedStyle(n).visibility !== 'hidden';
  const over = [];
  for (const notice of document.querySelectorAll(selector)) {
    if (!shown(notice) || notice.contains(control)) continue;
    const r = notice.getBoundingClientRect();
    const left = Math.max(r.left, box.left), right = Math.min(r.right, box.right);
    const top = Math.max(r.top, box.top), bottom = Math.min(r.bottom, box.bottom);
    if (left >= right || top >= bottom) continue;
    // they meet: the notice covers the control if the notice is what shows where they meet (a menu over a notice
    // in the page is not covered by it)
    const hit = document.elementFromPoint((left + right) / 2, (top + bottom) / 2);
    if (notice.contains(hit)) over.push(`a notice over it: ${notice.textContent.trim()}`);
  }
  const hit = document.elementFromPoint(box.left + box.width / 2, box.top + box.height / 2);
  if (!control.contains(hit)) over.push(`at its centre: ${hit ? hit.outerHTML.slice(0, 160) : 'nothing'}`);
  return over;
}"""


def covering(control: Locator) -> list[str]:
    """What lies over `control` as a person sees it: the notices drawn over any part of it, and what is at its
    centre if that is not the control itself."""
    control.scroll_into_view_if_needed()
    return control.evaluate(COVERING, NOTICES)


def missed_notice(page: Page) -> Locator:
    return page.get_by_role('status', name='Missed calls')


def missed_call(caller: Person, callee: Person) -> None:
    """The caller rings the callee and hangs up before an answer."""
    call(caller, callee)
    caller.page.get_by_role('button', name='Cancel').click()
    expect(callee.page.get_by_role('dialog')).to_be_hidden()
    caller.page.get_by_role('button', name='Back to dashboard').click()


def open_menu_if_folded(page: Page) -> None:
    """On a narrow window the account's controls are in the header's `Menu`."""
    menu = page.get_by_role('button', name='Menu')
    if menu.is_visible() and menu.get_attribute('aria-expanded') != 'true':
        menu.click()
