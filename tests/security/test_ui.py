"""Hostile load on the UI (issue 22): Mallory rings bob and hangs up as fast as the call limit lets her, and carol once
more. Bob's controls stay his: one notice below the header that does not grow, nothing over the header, the
badge, Log out or the way to the dashboard, and Log out works at once. Bounded: 10 calls (CALLS_PER_MINUTE's
default, the 11th would be refused), a few seconds each. Run by path: tests/security is not in testpaths yet."""

import re

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.conftest import DESKTOP, PHONE, covering, missed_call, missed_notice, open_menu_if_folded

RINGS = 10  # CALLS_PER_MINUTE's default: as many as Mallory may in a minute
LINE_PX = 24  # the count's extra digit may wrap the notice's headline once on a phone, no more


def notice_height(page: Page) -> float:
    box = missed_notice(page).bounding_box()
    assert box is not None
    return box['height']


def assert_header_uncovered(page: Page, missed: int) -> None:
    badge = page.get_by_role('button', name=f'{missed} missed')
    expect(badge).to_be_visible()
    assert covering(badge) == []
    assert covering(page.get_by_role('link', name='VoiceConnect')) == []


@pytest.mark.parametrize('window', [DESKTOP, PHONE], ids=['desktop', 'phone'])
def test_ringing_and_hanging_up_over_and_over_never_covers_the_victims_controls(vc_server, people, window) -> None:
    mallory, bob, carol = people(3)
    bob.page.set_viewport_size(window)
    missed_call(mallory, bob)
    missed_call(carol, bob)
    assert_header_uncovered(bob.page, 2)
    first = notice_height(bob.page)

    for _ in range(RINGS - 1):
        missed_call(mallory, bob)
    assert_header_uncovered(bob.page, RINGS + 1)
    expect(missed_notice(bob.page)).to_contain_text(f'{RINGS + 1} missed calls: {mallory.name}, {carol.name}')
    expect(bob.page.get_by_text(re.compile('missed call', re.IGNORECASE))).to_have_count(1)
    assert notice_height(bob.page) <= first + LINE_PX  # the same notice, not one more per ring
    open_menu_if_folded(bob.page)
    log_out = bob.page.get_by_role('button', name='Log out')
    assert covering(log_out) == []
    log_out.click(timeout=3_000)
    expect(bob.page.get_by_label('Username')).to_be_visible()
    vc_server.wait_for_log(f'👋 User disconnected: {bob.name}')
