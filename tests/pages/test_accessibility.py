"""What a screen reader is told, and the shortcuts' one table, without a browser (NiceGUI's simulated User)."""

import html
import json
import re

from nicegui.testing import User

from pages.shortcuts import SHORTCUTS, dialog_html
from tests.simulated import alice_sees_bob, ring


def said(user: User, marker: str) -> str:
    (region,) = user.find(marker=marker).elements
    return str(region.props.get('data-say', '')).strip()


async def test_ringing_is_announced_at_once_and_a_declined_call_to_both(user: User, create_user) -> None:
    bob = await alice_sees_bob(user, create_user)
    await ring(user, 'bob')
    await bob.should_see('Accept')
    assert said(bob, 'announce-urgent') == 'Incoming call from alice'
    assert said(user, 'announce') == 'Calling bob…'
    bob.find('Decline').click()
    await user.should_see('bob declined')
    assert said(user, 'announce') == 'bob declined'
    assert said(bob, 'announce') == 'You declined the call'


async def test_the_same_sentence_twice_is_a_change_a_screen_reader_hears(user: User, create_user) -> None:
    """Live regions announce changes: a second identical sentence must still change the region."""
    bob = await alice_sees_bob(user, create_user)
    for _ in range(2):
        await ring(user, 'bob')
        await bob.should_see('Accept')
        user.find('Cancel').click()
        await user.should_see('Call cancelled')
        user.find('Back to dashboard').click()
        await user.should_see('Online now')
    (region,) = bob.find(marker='announce').elements
    assert region.props['data-say'] == 'Missed call from alice\u00a0'  # the second, told apart from the first


def test_the_keyboard_shortcuts_dialog_is_drawn_from_the_table_the_browser_acts_on() -> None:
    markup = dialog_html()
    data = re.search(r'data-vc-shortcuts="([^"]*)"', markup)
    assert data is not None
    table = json.loads(html.unescape(data.group(1)))
    assert {row['key']: row['action'] for row in table if row['action']} == {
        '?': 'shortcuts',
        'm': 'mute',
        'Escape': 'decline',
    }
    assert [(row['keys'], row['what']) for row in table] == [(s.keys, s.what) for s in SHORTCUTS]
    assert ('Space', 'Push to talk (when Push to talk is on)') in [(s.keys, s.what) for s in SHORTCUTS]
    assert 'aria-labelledby="vc-shortcuts-title"' in markup and '>Keyboard shortcuts</h2>' in markup
