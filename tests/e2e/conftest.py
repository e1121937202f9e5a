"""End-to-end helpers: real Chromium per person (fake microphone tone each), the app as a subprocess."""

import re

from playwright.sync_api import Page, expect

from voiceconnect.testing.harness import Person

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
