"""The Sound test contact in real Chromium: a person calls it and hears their own voice (their fake microphone's
tone) played back, then it hangs up."""

from playwright.sync_api import expect

from voiceconnect.testing.probes import wait_for_tone
from voiceconnect.testing.servers import AppServer

from .conftest import expect_call_ended


def test_a_person_calls_the_sound_test_and_hears_their_own_tone_back(vc_server: AppServer, people) -> None:
    (alice,) = people(1)
    alice.page.get_by_role('button', name='Call Sound test').click()
    expect(alice.page.get_by_text('In call with Sound test')).to_be_visible()
    wait_for_tone(alice.page, alice.tone_hz, timeout=20)  # recorded for 5 s, then played back
    expect_call_ended(alice.page)
    vc_server.wait_for_log('📴 Call ended')
    assert f'{alice.name} → Sound test/{alice.name}' in vc_server.log_text()
