"""People in real browsers: one Chromium per person (`launch_person`), whose fake microphone plays that person's own
tone, signed up or in through the sign-in page (`sign_up`, `sign_in`); and `peek`, JavaScript evaluated in a page
without the user gesture Playwright's own `page.evaluate` grants.

Chromium facts that shape this (measured with Chromium 156):

- Every Playwright ``page.evaluate`` runs with a user gesture, which gives the document sticky user activation
  and so unlocks autoplay. ``peek`` evaluates through a CDP session without a gesture, so it never changes the
  autoplay behaviour under test; use it whenever a test must not unlock autoplay (the probes do).
- The fake microphone file is per browser process, not per page: hence one browser per person.
"""

from __future__ import annotations

import contextlib
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright

from .audio import write_tone_wav

CHROMIUM = '/usr/bin/chromium'
TONES_HZ = (440, 660, 880, 550, 770, 990, 330, 1100)  # one per simulated person, told apart by the probes
NAMES = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi')
DEFAULT_TIMEOUT_MS = 15_000


def chromium_args(tone_wav: Path | str) -> list[str]:
    """Flags for a fake, auto-granted microphone and a browser that stays off the network.

    No --autoplay-policy flag on purpose: tests must see the real autoplay behaviour.
    """
    return [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        f'--use-file-for-fake-audio-capture={tone_wav}',
        '--allow-loopback-in-peer-connection',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
    ]


@dataclass
class Person:
    name: str
    password: str
    tone_hz: float
    browser: Browser
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)  # browser console lines, shown when a test fails

    def console_section(self) -> tuple[str, str]:
        return f'browser console of {self.name}', '\n'.join(self.console)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()


def launch_person(playwright: Playwright, name: str, tone_hz: float, tmp_dir: Path | str, password: str = '') -> Person:
    """One Chromium process per person: the fake microphone file is per process, not per page."""
    tone = write_tone_wav(Path(tmp_dir) / f'{name}-{tone_hz:g}hz.wav', tone_hz)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(tone))
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    person = Person(name, password, tone_hz, browser, context, page)
    page.on('console', lambda msg: person.console.append(f'[{msg.type}] {msg.text}'))
    page.on('pageerror', lambda err: person.console.append(f'[pageerror] {err}'))
    return person


def _submit_login(page: Page, base_url: str, name: str, password: str, button: str) -> None:
    page.goto(base_url.rstrip('/') + '/login')
    page.get_by_label('Username').fill(name)
    page.get_by_label('Password').fill(password)
    page.get_by_role('button', name=button).click()
    page.get_by_text(f'Signed in as {name}').wait_for(state='visible')


def sign_up(page: Page, base_url: str, name: str, password: str) -> None:
    _submit_login(page, base_url, name, password, 'Create account')


def sign_in(page: Page, base_url: str, name: str, password: str) -> None:
    _submit_login(page, base_url, name, password, 'Sign in')


def on_dashboard(page: Page, base_url: str) -> None:
    """Make sure a signed-in page is on `/`: the contract says where a signed-in person can be, not where sign-up
    lands."""
    dashboard = base_url.rstrip('/') + '/'
    if page.url != dashboard:
        page.goto(dashboard)
    page.get_by_text('Signed in as').first.wait_for(state='visible')


_cdp_sessions: weakref.WeakKeyDictionary[Page, CDPSession] = weakref.WeakKeyDictionary()


def peek(page: Page, expression: str) -> Any:
    """Evaluate JS like page.evaluate, but WITHOUT a user gesture (page.evaluate grants one in Chromium)."""
    cdp = _cdp_sessions.get(page)
    if cdp is None:
        cdp = _cdp_sessions[page] = page.context.new_cdp_session(page)
    reply = cdp.send(
        'Runtime.evaluate',
        {'expression': expression, 'awaitPromise': True, 'returnByValue': True, 'userGesture': False},
    )
    if 'exceptionDetails' in reply:
        details = reply['exceptionDetails']
        raise RuntimeError(details.get('exception', {}).get('description') or details.get('text'))
    return reply['result'].get('value')
