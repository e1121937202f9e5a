"""Make the README's screenshots from the running app: docs/dashboard.png and docs/call.png.

Run with `scripts/bench.sh`'s namespace recipe, e.g.:
    unshare --net --fork sh -c 'ip link set lo up; exec env PYTHONPATH=. .venv/bin/python scripts/screenshots.py'
"""

import tempfile
from pathlib import Path

from playwright.sync_api import expect, sync_playwright

from voiceconnect.testing.harness import AppServer, launch_person, sign_up

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
            alice.page.screenshot(path=DOCS / 'call.png')
            for person in people:
                person.close()
    print(f'wrote {DOCS / "dashboard.png"} and {DOCS / "call.png"}')


if __name__ == '__main__':
    main()
