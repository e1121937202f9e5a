"""Group calls of real Chromium browsers on the audio bridge (a real Janus, `janus_server`): with MESH_MAX=3, alice,
bob and carol talk in a mesh (one stream per other person); dave joins, the call moves to an AudioBridge room
without anyone accepting again, and each tab plays one stream, Janus's mix of the three others (FFT: every other
tone, not its own); dave hangs up and the three still hear each other on the bridge; carol's page reloads and she
is back in the mix. One group carried through these steps, so four Chromiums start once.

A module of its own: the browsers use Playwright's sync API, the voice-client bridge tests are async."""

from typing import Any

import pytest
from playwright.sync_api import expect

from voiceconnect.testing.browser import Person
from voiceconnect.testing.janus import JanusServer
from voiceconnect.testing.probes import wait_for_mix, wait_for_voices

from .conftest import accept, call
from .test_group_bridge import janus_settings
from .test_group_calls import accept_invitation, add_from_dialog, everyone_hears_the_others, participants


@pytest.fixture
def vc_settings(janus_server: JanusServer) -> dict[str, Any]:
    return janus_settings(janus_server, MESH_MAX=3)


def everyone_hears_the_mix(group: list[Person], gone: tuple[Person, ...] = ()) -> None:
    """Each of `group` plays the bridge's one stream: every other one's tone, not its own nor those of `gone`."""
    for person in group:
        others = [other.tone_hz for other in group if other is not person]
        wait_for_mix(person.page, others, [person.tone_hz, *(left.tone_hz for left in gone)], timeout=25)


def test_browsers_move_from_the_mesh_to_the_bridge_and_hear_the_mix_through_a_leave_and_a_reload(
    vc_server, people
) -> None:
    alice, bob, carol, dave = people(4)
    call(alice, bob)
    accept(alice, bob)
    add_from_dialog(alice, carol)
    accept_invitation(carol, alice, bob)
    everyone_hears_the_others([alice, bob, carol])  # the mesh: a stream per other person

    add_from_dialog(alice, dave)
    accept_invitation(dave, alice, bob, carol)
    vc_server.wait_for_log(f'🌉 Call moved to the audio bridge: {alice.name} → {bob.name} (4 people)')
    everyone_hears_the_mix([alice, bob, carol, dave])
    for person in (alice, bob, carol, dave):
        expect(participants(person.page).get_by_role('listitem')).to_have_count(4)
    expect(alice.page.get_by_text('Call ended')).to_have_count(0)  # nobody accepted again, nobody was dropped

    dave.page.get_by_role('button', name='Hang up').click()
    expect(dave.page.get_by_text('Call ended')).to_be_visible()
    vc_server.wait_for_log(f'👥 Left: {dave.name}')
    everyone_hears_the_mix([alice, bob, carol], gone=(dave,))

    carol.page.reload()  # a new document: a fresh link to the bridge, the same seat in the room
    expect(participants(carol.page).get_by_role('listitem')).to_have_count(3)
    everyone_hears_the_mix([alice, bob, carol], gone=(dave,))

    alice.page.get_by_role('button', name='Hang up').click()  # the host leaves: the two left talk on
    wait_for_voices(bob.page, [carol.tone_hz])
    wait_for_voices(carol.page, [bob.tone_hz])
    log = vc_server.log_text()
    assert 'Traceback' not in log
    assert 'Rejected signal' not in log
