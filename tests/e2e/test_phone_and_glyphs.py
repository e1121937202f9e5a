"""What a person sees on a phone and on a system without a colour-emoji font, in real Chromium: a header of one
row with the rest in its `Menu` (reachable by the same roles and names), and no emoji anywhere in the UI (they
draw an empty box there); emoji belong to the log only."""

import re

from playwright.sync_api import Page, expect

from voiceconnect.testing.browser import Person

from .conftest import DESKTOP, PHONE, accept, call, missed_call

ONE_ROW_PX = 64  # the desktop header's row is 68 px with its padding; three rows were about 170
IN_THE_MENU = [('switch', 'Do not disturb'), ('button', 'Audio settings'), ('button', 'Switch account')]

EMOJI_IN_THE_UI = r"""() => {
  const emoji = /[\p{Extended_Pictographic}\u{FE0F}]/u;
  const found = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    if (!node.parentElement.closest('script, style') && emoji.test(node.nodeValue)) found.push(node.nodeValue.trim());
  }
  for (const name of ['aria-label', 'title', 'placeholder', 'alt']) {
    for (const element of document.querySelectorAll(`[${name}]`)) {
      if (emoji.test(element.getAttribute(name))) found.push(`${name}="${element.getAttribute(name)}"`);
    }
  }
  if (emoji.test(document.title)) found.push(`the tab's title: ${document.title}`);
  const icon = document.querySelector('link[rel~="icon"]');
  if (icon && emoji.test(decodeURIComponent(icon.href))) found.push('the favicon is an emoji');
  return found;
}"""


def emoji_in_the_ui(page: Page) -> list[str]:
    return page.evaluate(EMOJI_IN_THE_UI)


def test_on_a_phone_the_header_is_one_row_and_the_rest_is_in_the_menu(vc_server, people) -> None:
    alice, bob = people(2)
    bob.page.set_viewport_size(PHONE)
    missed_call(alice, bob)
    header = bob.page.get_by_role('banner')
    always = [
        bob.page.get_by_role('link', name='VoiceConnect'),
        bob.page.get_by_role('button', name='1 missed'),
        header.get_by_text('Connected', exact=True),
    ]
    for element in always:
        expect(element).to_be_visible()
    box = header.bounding_box()
    assert box is not None and box['height'] <= ONE_ROW_PX, box
    always.append(bob.page.get_by_role('button', name='Menu'))
    for element in always:  # all in that row, none past the screen's edge
        part = element.bounding_box()
        assert part is not None and part['y'] >= 0 and part['y'] + part['height'] <= box['height'], part
        assert part['x'] >= 0 and part['x'] + part['width'] <= PHONE['width'], part
    for role, name in [*IN_THE_MENU, ('button', 'Log out')]:
        expect(bob.page.get_by_role(role, name=name)).to_be_hidden()

    menu = bob.page.get_by_role('button', name='Menu')
    menu.click()
    expect(menu).to_have_attribute('aria-expanded', 'true')
    expect(bob.page.get_by_text(f'Signed in as {bob.name}')).to_be_visible()
    for role, name in [*IN_THE_MENU, ('button', 'Log out')]:
        expect(bob.page.get_by_role(role, name=name)).to_be_visible()
    dnd = bob.page.get_by_role('switch', name='Do not disturb')
    dnd.click()
    expect(dnd).to_be_checked()  # the switch keeps the menu open
    dnd.click()
    expect(dnd).not_to_be_checked()
    bob.page.keyboard.press('Escape')
    expect(bob.page.get_by_role('button', name='Log out')).to_be_hidden()
    expect(menu).to_have_attribute('aria-expanded', 'false')
    expect(menu).to_be_focused()

    menu.click()
    bob.page.get_by_role('button', name='Audio settings').click()
    expect(bob.page.get_by_role('dialog', name='Audio settings')).to_be_visible()
    expect(bob.page.get_by_role('button', name='Log out')).to_be_hidden()  # an item closes the menu
    bob.page.get_by_role('dialog', name='Audio settings').get_by_role('button', name='Close').click()

    menu.click()
    bob.page.get_by_role('heading', name='Recent calls').click()  # outside it
    expect(bob.page.get_by_role('button', name='Log out')).to_be_hidden()

    menu.click()
    bob.page.get_by_role('button', name='Switch account').click()
    expect(bob.page.get_by_label('Username')).to_be_visible()
    bob.page.goto(vc_server.url + '/')  # still bob: switching is signing in as someone else
    expect(menu).to_be_visible()
    menu.click()
    bob.page.get_by_role('button', name='Log out').click()
    expect(bob.page.get_by_label('Username')).to_be_visible()
    vc_server.wait_for_log(f'👋 User disconnected: {bob.name}')


def test_a_desktop_window_keeps_the_whole_header_in_its_row(vc_server, people) -> None:
    (alice,) = people(1)
    alice.page.set_viewport_size(DESKTOP)
    expect(alice.page.get_by_role('button', name='Menu')).to_be_hidden()
    for role, name in [*IN_THE_MENU, ('button', 'Log out')]:
        expect(alice.page.get_by_role(role, name=name)).to_be_visible()
    expect(alice.page.get_by_text(f'Signed in as {alice.name}')).to_be_visible()
    box = alice.page.get_by_role('banner').bounding_box()
    assert box is not None and box['height'] <= 68, box


def _no_emoji(*people: Person) -> None:
    for person in people:
        assert emoji_in_the_ui(person.page) == [], person.name


def test_no_emoji_in_the_ui_anywhere_a_person_goes(vc_server, people) -> None:
    alice, bob, carol = people(3)
    carol.page.get_by_role('button', name='Log out').click()
    expect(carol.page).to_have_url(re.compile(r'/login$'))  # the session's end shows the sign-in page, once
    expect(carol.page.get_by_label('Username')).to_be_visible()
    _no_emoji(carol)  # the sign-in page

    missed_call(alice, bob)  # bob: the missed-call notice, the badge, Recent calls
    expect(bob.page.get_by_text(f'Missed call from {alice.name}')).to_be_visible()
    _no_emoji(alice, bob)

    call(alice, bob)  # ringing: the caller's page, the callee's dialog and the tab's title
    expect(bob.page).to_have_title(re.compile(re.escape(alice.name)))
    _no_emoji(alice, bob)
    accept(alice, bob)  # in call: the speaking and connection indicators
    expect(alice.page.get_by_label(f'{bob.name} is speaking')).to_be_visible()
    _no_emoji(alice, bob)
    bob.page.set_viewport_size(PHONE)
    bob.page.get_by_role('button', name='Menu').click()
    expect(bob.page.get_by_role('button', name='Log out')).to_be_visible()
    _no_emoji(bob)
    bob.page.keyboard.press('Escape')

    bob.page.get_by_role('button', name='Hang up').click()  # over: the outcome page
    expect(alice.page.get_by_text('Call ended')).to_be_visible()
    _no_emoji(alice, bob)
    alice.page.get_by_role('button', name='Back to dashboard').click()
    alice.page.get_by_label('Search people').fill(carol.name[:4])  # someone offline, found by name
    expect(alice.page.get_by_role('button', name=f'Call {carol.name}')).to_be_visible()
    _no_emoji(alice)
