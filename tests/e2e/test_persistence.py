"""Nothing lost: signed-in accounts outlive the browser, every call that rang has its row, a crash is closed."""

import sqlite3

from playwright.sync_api import expect

from voiceconnect.testing.waiting import wait_until

from .conftest import accept, call


def call_rows(vc_server) -> list[tuple]:
    with sqlite3.connect(vc_server.data_dir / 'voiceconnect.db') as db:
        return db.execute(
            'SELECT caller, callee, answered IS NOT NULL, ended IS NOT NULL, end_reason FROM calls'
        ).fetchall()


def wait_for_rows(vc_server, expected: list[tuple], timeout: float = 10) -> None:
    wait_until(
        lambda: call_rows(vc_server) == expected, lambda: f'call rows {call_rows(vc_server)} != {expected}', timeout
    )


def test_accounts_signed_in_on_a_browser_survive_closing_it(vc_server, people, playwright_sync) -> None:
    (alice,) = people(1)
    saved = alice.context.storage_state()  # the browser's cookies, as kept on disk between runs
    alice.context.close()
    reopened = alice.browser.new_context(storage_state=saved)
    page = reopened.new_page()
    page.goto(vc_server.url + '/')
    expect(page.get_by_text(f'Signed in as {alice.name}')).to_be_visible()
    expect(page.get_by_text('Connected', exact=True)).to_be_visible()


def test_every_call_that_rang_has_its_row_with_its_reason(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    bob.page.get_by_role('dialog').get_by_role('button', name='Decline').click()
    expect(alice.page.get_by_text(f'{bob.name} declined')).to_be_visible()
    alice.page.get_by_role('button', name='Back to dashboard').click()
    call(alice, bob)
    accept(alice, bob)
    bob.page.get_by_role('button', name='Hang up').click()
    expect(alice.page.get_by_text('Call ended')).to_be_visible()
    wait_for_rows(vc_server, [(alice.name, bob.name, 0, 1, 'declined'), (alice.name, bob.name, 1, 1, 'completed')])


def test_a_call_left_open_by_a_crash_is_closed_as_server_restart(vc_server, people) -> None:
    alice, bob = people(2)
    call(alice, bob)
    accept(alice, bob)
    wait_for_rows(vc_server, [(alice.name, bob.name, 1, 0, None)])  # written while the call runs
    vc_server.crash()
    vc_server.start()
    vc_server.wait_for_log('Closed 1 call(s) left open by the last run: server_restart')
    wait_for_rows(vc_server, [(alice.name, bob.name, 1, 1, 'server_restart')])
    with sqlite3.connect(vc_server.data_dir / 'voiceconnect.db') as db:
        (duration,) = db.execute('SELECT duration_s FROM calls').fetchone()
    assert duration > 0
