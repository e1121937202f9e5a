"""Voicemail with several processes over Redis (`scripts/cluster.sh 2`): a message left from a browser that one
process serves reaches the callee's browser on the other at once (the news through Redis), and that process serves
its sound from the shared data dir."""

from collections.abc import Callable

from playwright.sync_api import expect

from voiceconnect.testing.browser import Person
from voiceconnect.testing.probes import wait_for_playback_tone
from voiceconnect.testing.servers import Cluster

from .test_several_processes import cluster, instance_of, served  # noqa: F401  (the cluster and its people)


def test_a_message_left_on_one_process_is_played_from_the_other(
    cluster: Cluster,  # noqa: F811
    served: Callable[[str, Cluster], Person],  # noqa: F811
) -> None:
    alice, bob = served('app1', cluster), served('app2', cluster)
    assert instance_of(alice.page) != instance_of(bob.page)
    bob.page.get_by_role('switch', name='Do not disturb').click()
    expect(alice.page.locator('.q-badge', has_text='Do not disturb')).to_be_visible()
    alice.page.get_by_role('button', name=f'Call {bob.name}', exact=True).click()
    expect(alice.page.get_by_text(f'{bob.name} is not taking calls')).to_be_visible()
    alice.page.get_by_role('button', name='Leave a message').click()
    expect(alice.page.get_by_text('Recording…')).to_be_visible()
    alice.page.wait_for_timeout(3000)
    alice.page.get_by_role('button', name='Send').click()
    expect(alice.page.get_by_text('Message sent')).to_be_visible()

    player = bob.page.get_by_label(f'Message from {alice.name}')
    expect(player).to_be_visible()
    wait_for_playback_tone(bob.page, f'Message from {alice.name}', alice.tone_hz)
    assert f'📼 Message left: {alice.name} → {bob.name}' in cluster.log_text()
