"""Make the README's screenshots from the running app: docs/dashboard.png, docs/call.png, and on a phone (390x844)
docs/phone.png (a missed call's notice below the one-row header) and docs/phone-menu.png (the header's Menu open).

Run with `scripts/bench.sh`'s namespace recipe, e.g.:
    unshare --net --fork sh -c 'ip link set lo up; exec env PYTHONPATH=. .venv/bin/python scripts/screenshots.py'
"""

import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from voiceconnect.testing.browser import launch_person, sign_up
from voiceconnect.testing.servers import AppServer

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / 'docs'


def main() -> None:
    DOCS.mkdir(exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp_dir, sync_playwright() as playwright:
        tmp = Path(tmp_dir)
        with AppServer(ROOT, tmp / 'data', tmp / 'server.log') as server:
            people = [launch_person(playwright, name, hz, tmp) for name, hz in (('alice', 440), ('bob', 660))]
            for name in ('carol', 'dave'):
                extra = launch_person(playwright, name, 550, tmp)
                sign_up(extra.page, server.url, name, 'screenshot password')
                people.append(extra)
            alice, bob = people[:2]
            for person in (alice, bob):
                person.page.set_viewport_size({'width': 1100, 'height': 560})
                sign_up(person.page, server.url, person.name, 'screenshot password')
            expect(alice.page.get_by_role('button', name='Call dave')).to_be_visible()
            alice.page.screenshot(path=DOCS / 'dashboard.png')
            alice.page.get_by_role('button', name='Call bob').click()
            bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
            expect(alice.page.get_by_role('timer')).to_have_text('0:03', timeout=10_000)
            bob.page.get_by_role('button', name='Mute', exact=True).click()
            expect(alice.page.get_by_text('bob is muted')).to_be_visible()
            expect(alice.page.get_by_label('bob is speaking')).to_be_hidden()  # a muted voice is not heard
            alice.page.screenshot(path=DOCS / 'call.png')

            carol, dave = people[2:]
            dave.page.set_viewport_size({'width': 390, 'height': 844})
            carol.page.get_by_role('button', name='Call dave').click()
            expect(dave.page.get_by_role('dialog')).to_contain_text('carol')
            carol.page.get_by_role('button', name='Cancel').click()
            expect(dave.page.get_by_role('status', name='Missed calls')).to_be_visible()
            expect(dave.page.get_by_role('dialog')).to_be_hidden()
            dave.page.wait_for_timeout(500)  # the dialog's fade-out, done
            expect(dave.page.get_by_text('In a call')).to_have_count(2)  # alice and bob, still talking
            dave.page.screenshot(path=DOCS / 'phone.png')
            dave.page.get_by_role('button', name='Menu').click()
            expect(dave.page.get_by_role('button', name='Log out')).to_be_visible()
            dave.page.screenshot(path=DOCS / 'phone-menu.png')
            for person in people:
                person.close()
    print('wrote', ', '.join(str(DOCS / name) for name in ('dashboard.png', 'call.png', 'phone.png', 'phone-menu.png')))


if __name__ == '__main__':
    main()
