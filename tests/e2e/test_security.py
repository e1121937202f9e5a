"""Hostile input and abuse in real browsers: the CSP holds through a whole call, whatever users supply stays
text, and a session cookie copied before Log out is worthless afterwards.

One server and one pair of people for the module (each browser is a Chromium process: they are not cheap).
"""

import asyncio
import json
import re
import secrets
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import quote

import pytest
from playwright.sync_api import Page, Playwright, expect

from voiceconnect.people.accounts import Accounts
from voiceconnect.people.db import Store
from voiceconnect.testing.browser import TONES_HZ, Person, launch_person, peek, sign_up
from voiceconnect.testing.probes import is_playing, wait_for_tone
from voiceconnect.testing.servers import PROJECT_DIR, AppServer
from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call, expect_call_ended

# Runs before any script of every document, outside the page's CSP (it is injected by the browser's devtools).
RECORD_CSP_VIOLATIONS = """
window.__cspViolations = [];
document.addEventListener('securitypolicyviolation', (e) => window.__cspViolations.push(
  `${e.effectiveDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber} ${e.sample}`));
"""
# What an attacker would type or send: markup, script, and a Vue template expression
HOSTILE = (
    '<img src=x onerror=window.__pwned=1>',
    '<script>window.__pwned=1</script>',
    '{{7*7}}',
    '"><svg onload=window.__pwned=1>',
)
HOSTILE_ALL_IN_ONE = '<img src=x onerror=window.__pwned=1>{{7*7}}<b>bold</b>'

MakePerson = Callable[[str], Person]
Pair = tuple[Person, Person]


@pytest.fixture(scope='module')
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AppServer]:
    root = tmp_path_factory.mktemp('vc-security')
    app_server = AppServer(PROJECT_DIR, root / 'data', root / 'server.log').start()
    yield app_server
    app_server.stop()


@pytest.fixture(scope='module')
def new_person(playwright_sync: Playwright, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MakePerson]:
    """Factory of people with their own Chromium that records CSP violations; all closed at the module's end."""
    tmp = tmp_path_factory.mktemp('vc-security-people')
    launched: list[Person] = []

    def make(prefix: str) -> Person:
        name = f'{prefix}_{secrets.token_hex(2)}'
        tone = TONES_HZ[len(launched) % len(TONES_HZ)]
        person = launch_person(playwright_sync, name, tone, tmp, password='pw-' + secrets.token_hex(6))
        launched.append(person)
        person.context.add_init_script(RECORD_CSP_VIOLATIONS)
        return person

    yield make
    for person in launched:
        person.close()


@pytest.fixture(scope='module')
def alice_and_bob(server: AppServer, new_person: MakePerson) -> Pair:
    pair = new_person('alice'), new_person('bob')
    for person in pair:
        sign_up(person.page, server.url, person.name, person.password)
    return pair


@pytest.fixture
def on_dashboard(server: AppServer, alice_and_bob: Pair) -> Pair:
    """Alice and Bob on a freshly loaded dashboard, each seeing the other, with a clean violation record."""
    alice, bob = alice_and_bob
    for person, other in ((alice, bob), (bob, alice)):
        person.console.clear()  # before the load: what Chromium says about the headers comes with it
        person.page.goto(server.url + '/')
        expect(person.page.get_by_role('button', name=f'Call {other.name}')).to_be_visible()
    return alice, bob


def csp_problems(person: Person) -> list[str]:
    """CSP violations the document reported, and what Chromium said about the policies on its console."""
    violations = peek(person.page, 'window.__cspViolations || ["violation recorder missing"]')
    console = [line for line in person.console if 'Content Security Policy' in line or 'Permissions-Policy' in line]
    return [*violations, *console]


def assert_no_csp_problems(*people: Person) -> None:
    for person in people:
        assert csp_problems(person) == [], f'{person.name}: {csp_problems(person)}'


def assert_nothing_was_interpreted(page: Page) -> None:
    """No markup, script or template expression from a hostile string made it into the document as such."""
    assert peek(page, 'window.__pwned') is None
    assert peek(page, 'document.querySelectorAll("img[src=x], svg[onload], b").length') == 0
    assert '49' not in peek(page, 'document.body.innerText')


def emit_signal(page: Page, message: dict[str, object]) -> None:
    """What a tampered browser module would send: any object, on the page's own socket."""
    page.evaluate(f'emitEvent("vc_signal", {json.dumps(message)})')


def test_a_whole_call_runs_under_the_csp_without_a_single_violation(on_dashboard: Pair) -> None:
    alice, bob = on_dashboard
    call(alice, bob)
    wait_until(lambda: is_playing(bob.page, 'vc-ringtone'), 'the ringtone (/assets, media-src) plays')
    wait_until(lambda: is_playing(alice.page, 'vc-ringback'), 'the ringback tone plays')
    accept(alice, bob)
    wait_for_tone(alice.page, bob.tone_hz)  # WebRTC voice: a remote MediaStream on an <audio>
    wait_for_tone(bob.page, alice.tone_hz)
    alice.page.get_by_role('button', name='Hang up').click()
    expect_call_ended(alice.page)
    expect_call_ended(bob.page)
    alice.page.get_by_role('button', name='Back to dashboard').click()
    expect(alice.page.get_by_role('button', name=f'Call {bob.name}')).to_be_visible()
    assert peek(alice.page, 'window.isSecureContext')
    assert_no_csp_problems(alice, bob)


def test_the_csp_is_enforced_injected_markup_cannot_run_script(on_dashboard: Pair) -> None:
    """The control for the test above: a policy that blocked nothing would also report no violation."""
    alice, _ = on_dashboard
    alice.page.evaluate("""() => {
        document.body.insertAdjacentHTML('beforeend', '<img id="inj" src="/x" onerror="window.__pwned = 1">');
        const script = document.createElement('script');
        script.textContent = 'window.__pwned = 2';
        document.body.append(script);
    }""")
    wait_until(lambda: len(peek(alice.page, 'window.__cspViolations')) >= 2, 'both injections are reported')
    assert peek(alice.page, 'window.__pwned') is None
    directives = {line.split()[0] for line in peek(alice.page, 'window.__cspViolations')}
    assert directives == {'script-src-attr', 'script-src-elem'}


def test_hostile_usernames_at_sign_in_stay_text(server: AppServer, new_person: MakePerson) -> None:
    mallory = new_person('mallory')
    page = mallory.page
    page.goto(server.url + '/login')
    error = page.get_by_role('alert')
    for hostile in HOSTILE:
        page.get_by_label('Username').fill(hostile)
        page.get_by_label('Password').fill('long enough password')
        page.get_by_role('button', name='Create account').click()
        expect(error).to_have_text('Usernames are 3–32 characters: letters a–z, digits, _ . and -.')
        page.get_by_role('button', name='Sign in').click()
        expect(error).to_have_text('Wrong username or password.')
        expect(page.get_by_label('Username')).to_have_value(hostile)  # the field shows it literally
        assert_nothing_was_interpreted(page)
    assert_no_csp_problems(mallory)


def test_a_hostile_path_to_come_back_to_after_sign_in_stays_text(server: AppServer, new_person: MakePerson) -> None:
    """A URL's path reaches the UI in the sub page router's '404: sub page … not found' (also via ?next=)."""
    mallory = new_person('mallory')
    sign_up(mallory.page, server.url, mallory.name, mallory.password)
    mallory.page.goto(server.url + '/' + quote(HOSTILE_ALL_IN_ONE))
    expect(mallory.page.get_by_text(f'404: sub page /{HOSTILE_ALL_IN_ONE} not found')).to_be_visible()
    assert_nothing_was_interpreted(mallory.page)
    assert_no_csp_problems(mallory)


def test_hostile_signals_are_rejected_and_a_failure_reason_is_never_free_text(
    server: AppServer, on_dashboard: Pair
) -> None:
    alice, bob = on_dashboard
    emit_signal(bob.page, {'kind': 'candidate', 'call_id': HOSTILE[0], 'leg': HOSTILE[2], 'candidate': HOSTILE[1]})
    expect(bob.page.get_by_text('Call signaling rejected: String should match pattern')).to_be_visible()
    emit_signal(bob.page, {'kind': HOSTILE_ALL_IN_ONE, 'call_id': 'x'})
    expect(bob.page.get_by_text('Call signaling rejected: a signal is an object whose kind is one of')).to_be_visible()
    assert_nothing_was_interpreted(bob.page)

    # why the media failed reaches the peer's screen, so it is a fixed code the server puts in words: free text
    # (markup, a phone number to call, a forged log line) is refused and the call goes on
    call(alice, bob)
    accept(alice, bob)
    expect(bob.page).to_have_url(re.compile(r'/call/[A-Za-z0-9_-]+$'))  # Accept navigates there: read it once it has
    call_id = bob.page.url.rstrip('/').rsplit('/', 1)[-1]
    emit_signal(bob.page, {'kind': 'media_failed', 'call_id': call_id, 'reason': HOSTILE_ALL_IN_ONE})
    expect(bob.page.get_by_text("Call signaling rejected: Input should be 'mic_refused'")).to_be_visible()
    expect(alice.page.get_by_text(f'In call with {bob.name}')).to_be_visible()
    emit_signal(bob.page, {'kind': 'media_failed', 'call_id': call_id, 'reason': 'mic_refused'})
    for page in (alice.page, bob.page):
        expect(page.get_by_text(f'{bob.name}: Microphone access was refused.', exact=True)).to_be_visible()
        assert HOSTILE_ALL_IN_ONE not in page.inner_text('body')
        assert_nothing_was_interpreted(page)
    assert_no_csp_problems(alice, bob)


def _session_token(data_dir: Path, name: str) -> str:
    """The account's session token as the server keeps it in this browser's user storage."""
    for path in (data_dir / 'nicegui').glob('storage-user-*.json'):
        accounts = json.loads(path.read_text()).get('accounts', {})
        if name in accounts:
            return str(accounts[name])
    raise AssertionError(f'no user storage holds a session of {name}')


def resume(database_url: str, token: str) -> str | None:
    """What `Accounts.resume` says of the token, against the server's own database."""

    async def ask() -> str | None:
        store = Store(database_url)
        try:
            return await Accounts(store).resume(token)
        finally:
            await store.close()

    # in a thread of its own: Playwright's sync API keeps an event loop running in this one
    with ThreadPoolExecutor(1) as executor:
        return executor.submit(asyncio.run, ask()).result()


def test_a_session_cookie_copied_before_log_out_is_worthless_after_it(
    server: AppServer, new_person: MakePerson
) -> None:
    carol = new_person('carol')
    sign_up(carol.page, server.url, carol.name, carol.password)
    cookies = carol.context.cookies()
    token = _session_token(server.data_dir, carol.name)
    database_url = f'sqlite+aiosqlite:///{server.data_dir / "voiceconnect.db"}'
    assert resume(database_url, token) == carol.name

    def thief_opens(path: str) -> Page:
        context = carol.browser.new_context()
        context.add_cookies(cookies)  # type: ignore[arg-type]  # what an attacker copied from Carol's browser
        page = context.new_page()
        page.goto(server.url + path)
        return page

    before = thief_opens('/')  # the control: before Log out, the copied cookie IS Carol
    expect(before.get_by_text(f'Signed in as {carol.name}')).to_be_visible()
    before.context.close()

    carol.page.get_by_role('button', name='Log out').click()
    expect(carol.page.get_by_label('Username')).to_be_visible()
    server.wait_for_log(f'👋 User disconnected: {carol.name}')

    for path in ('/', f'/call/{secrets.token_hex(4)}'):
        after = thief_opens(path)
        expect(after.get_by_label('Username')).to_be_visible()
        assert after.url.startswith(server.url + '/login'), after.url
        expect(after.get_by_text(f'Signed in as {carol.name}')).to_have_count(0)
        expect(after.get_by_role('button', name=f'Continue as {carol.name}')).to_have_count(0)
        after.context.close()
    assert resume(database_url, token) is None  # the server refuses the old token itself


def test_a_cookie_copied_before_log_out_stays_worthless_after_the_owner_signs_in_again(
    server: AppServer, new_person: MakePerson
) -> None:
    """Log out gives the browser a new id: the owner's next sign-in lands where the copied cookie cannot look,
    also when it happens in a tab whose page was loaded before the Log out."""
    dave = new_person('dave')
    sign_up(dave.page, server.url, dave.name, dave.password)
    older_tab = dave.context.new_page()
    older_tab.goto(server.url + '/')
    expect(older_tab.get_by_text(f'Signed in as {dave.name}')).to_be_visible()
    cookies = dave.context.cookies()

    dave.page.get_by_role('button', name='Log out').click()
    expect(dave.page.get_by_label('Username')).to_be_visible()
    expect(older_tab.get_by_label('Username')).to_be_visible()  # signed out everywhere in the browser
    older_tab.get_by_label('Username').fill(dave.name)  # dave signs in again, in the tab from before
    older_tab.get_by_label('Password').fill(dave.password)
    older_tab.get_by_role('button', name='Sign in').click()
    expect(older_tab.get_by_text(f'Signed in as {dave.name}')).to_be_visible()
    dave.page.reload()
    expect(dave.page.get_by_text(f'Signed in as {dave.name}')).to_be_visible()  # his browser still knows him

    thief = dave.browser.new_context()
    thief.add_cookies(cookies)  # type: ignore[arg-type]  # Playwright types what it gives and takes apart
    page = thief.new_page()
    try:
        for path in ('/', '/login'):
            page.goto(server.url + path)
            expect(page.get_by_label('Username')).to_be_visible()
            expect(page.get_by_text(f'Signed in as {dave.name}')).to_have_count(0)
            expect(page.get_by_role('button', name=f'Continue as {dave.name}')).to_have_count(0)
    finally:
        thief.close()
