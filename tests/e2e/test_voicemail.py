"""Voicemail against the running app: a message left after a call nobody answered, by a program (the Python voice
client) and by a person in Chromium, reaches the callee (a player in their Recent calls that plays the caller's
tone), counts as missed, can be deleted; the files are private and Opus-sized."""

import asyncio
import re
import stat
import time
import wave
from pathlib import Path

import av
import pytest
from playwright.sync_api import expect

from voiceconnect.client import CallRefused, VoiceClient
from voiceconnect.testing.audio import dominant_frequency, write_tone_wav
from voiceconnect.testing.probes import wait_for_playback_tone
from voiceconnect.testing.servers import AppServer

TOLERANCE_HZ = 15


def decoded_wav(webm: Path, wav_path: Path) -> Path:
    """A stored message decoded to 48 kHz mono WAV, to analyse its sound."""
    resampler = av.AudioResampler(format='s16', layout='mono', rate=48_000)
    pcm = bytearray()
    with av.open(str(webm)) as container:
        for frame in container.decode(audio=0):
            for converted in resampler.resample(frame):
                pcm += bytes(converted.planes[0])[: converted.samples * 2]
    with wave.open(str(wav_path), 'wb') as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(48_000)
        out.writeframes(bytes(pcm))
    return wav_path


def stored_messages(server: AppServer) -> list[Path]:
    folder = server.data_dir / 'messages'
    return sorted(folder.glob('*.webm')) if folder.exists() else []


async def test_a_program_leaves_a_message_for_someone_offline_and_it_is_their_tone_in_a_private_file(
    vc_server: AppServer, tmp_path: Path
) -> None:
    (alice, alice_pw), (bob, _) = vc_server.add_user(), vc_server.add_user()
    tone = write_tone_wav(tmp_path / 'a.wav', 660, 4)
    async with VoiceClient(vc_server.url, alice, alice_pw) as a:
        with pytest.raises(CallRefused) as refused:
            await a.call(bob)
        assert refused.value.outcome == 'offline'
        assert await a.leave_message(refused.value, tone) == 'completed'
    line = vc_server.wait_for_log(f'📼 Message left: {alice} → {bob} (')
    assert re.search(r'\((3|4)s\)', line), line
    assert f'Call initiated: {alice} → {bob}' not in vc_server.log_text()  # Bob was not rung
    assert f'Call initiated: {alice} → Voice mail/{alice}' in vc_server.log_text()  # a call of its own
    (message,) = stored_messages(vc_server)
    assert stat.S_IMODE(message.stat().st_mode) == 0o600
    assert stat.S_IMODE(message.parent.stat().st_mode) == 0o700
    assert abs(dominant_frequency(decoded_wav(message, tmp_path / 'm.wav')) - 660) <= TOLERANCE_HZ


async def test_a_second_message_after_the_same_call_and_one_after_an_answered_call_are_refused(
    vc_server: AppServer, tmp_path: Path
) -> None:
    (alice, alice_pw), (bob, bob_pw) = vc_server.add_user(), vc_server.add_user()
    tone = write_tone_wav(tmp_path / 'a.wav', 660, 2)
    async with VoiceClient(vc_server.url, alice, alice_pw) as a:
        with pytest.raises(CallRefused) as refused:
            await a.call(bob)
        await a.leave_message(refused.value, tone)
        with pytest.raises(CallRefused, match='already'):
            await a.leave_message(refused.value, tone)
        with pytest.raises(CallRefused, match='no unanswered call of yours'):
            await a.leave_message('c' + 'x' * 16, tone)
        async with VoiceClient(vc_server.url, bob, bob_pw) as b:

            async def answer() -> None:
                call = await (await b.next_incoming(timeout=10)).accept()
                await asyncio.sleep(1)
                await call.hang_up()

            answering = asyncio.create_task(answer())
            call = await a.call(bob)
            await call.ended
            await answering
            with pytest.raises(CallRefused, match='no unanswered call of yours'):
                await a.leave_message(call.id, tone)
    assert len(stored_messages(vc_server)) == 1


def test_a_person_leaves_a_message_that_the_callee_plays_back_and_deletes(
    vc_server: AppServer, people, tmp_path: Path
) -> None:
    """Bob is not taking calls; Alice leaves a message from her browser; Bob's Recent calls play her tone."""
    alice, bob = people(2)
    bob.page.get_by_role('switch', name='Do not disturb').click()
    expect(alice.page.locator('.q-badge', has_text='Do not disturb')).to_be_visible()
    alice.page.get_by_role('button', name=f'Call {bob.name}', exact=True).click()
    expect(alice.page.get_by_text(f'{bob.name} is not taking calls')).to_be_visible()
    bob.page.get_by_role('button', name='1 missed').click()  # Bob saw his missed call
    expect(bob.page.get_by_role('button', name='1 missed')).to_be_hidden()

    clicked = time.perf_counter()
    alice.page.get_by_role('button', name='Leave a message').click()
    expect(alice.page.get_by_text('Recording…')).to_be_visible()
    recording_after_s = time.perf_counter() - clicked
    expect(alice.page.get_by_role('timer')).to_have_text(re.compile(r'^\d+:\d\d$'))
    time.sleep(4)
    alice.page.get_by_role('button', name='Send').click()
    expect(alice.page.get_by_text('Message sent')).to_be_visible()
    vc_server.wait_for_log(f'📼 Message left: {alice.name} → {bob.name}')

    player = bob.page.get_by_label(f'Message from {alice.name}')
    expect(player).to_be_visible()  # at once, in the tab that was open
    expect(bob.page.get_by_role('button', name='1 missed')).to_be_visible()  # the message is news again
    wait_for_playback_tone(bob.page, f'Message from {alice.name}', alice.tone_hz)

    (message,) = stored_messages(vc_server)
    seconds = float(re.search(r'\((\d+)s\)', vc_server.log_text()).group(1))  # type: ignore[union-attr]
    size = message.stat().st_size
    print(f'\nvoicemail: Leave a message → Recording… {recording_after_s * 1000:.0f} ms; ', end='')
    print(f'{size} bytes for {seconds:.0f} s = {size / seconds * 60 / 1000:.0f} KB/min')

    bob.page.get_by_role('button', name='Delete message').click()
    expect(player).to_have_count(0)
    assert stored_messages(vc_server) == []
