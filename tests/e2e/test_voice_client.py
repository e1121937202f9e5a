"""The Python voice client against the app: two VoiceClients call each other and each records the other's tone;
refusals come back as outcomes; a signaling blip mid-call does not end the call."""

import asyncio
from pathlib import Path

import pytest

from voiceconnect.client import Call, CallRefused, VoiceClient, VoiceClientError
from voiceconnect.testing.audio import dominant_frequency, write_tone_wav
from voiceconnect.testing.servers import AppServer

TOLERANCE_HZ = 15


async def test_two_clients_call_each_other_and_each_records_the_others_tone(
    vc_server: AppServer, tmp_path: Path
) -> None:
    (alice, alice_pw), (bob, bob_pw) = vc_server.add_user(), vc_server.add_user()
    alice_tone, bob_tone = write_tone_wav(tmp_path / 'a.wav', 440, 4), write_tone_wav(tmp_path / 'b.wav', 660, 4)
    async with VoiceClient(vc_server.url, alice, alice_pw) as a, VoiceClient(vc_server.url, bob, bob_pw) as b:

        async def bob_answers() -> Path:
            incoming = await b.next_incoming(timeout=10)
            assert incoming.caller == alice
            call = await incoming.accept()
            playing = asyncio.create_task(call.play(bob_tone))
            recorded = await call.record(tmp_path / 'bob-heard.wav', seconds=2)
            await playing
            return recorded

        answering = asyncio.create_task(bob_answers())
        call = await a.call(bob)
        playing = asyncio.create_task(call.play(alice_tone))
        alice_heard = await call.record(tmp_path / 'alice-heard.wav', seconds=2)
        bob_heard = await answering
        await playing
        assert await call.hang_up() == 'completed'
    assert abs(dominant_frequency(alice_heard) - 660) <= TOLERANCE_HZ
    assert abs(dominant_frequency(bob_heard) - 440) <= TOLERANCE_HZ
    vc_server.wait_for_log(f'✅ Call answered: {alice} → {bob}')
    vc_server.wait_for_log(f'👋 User disconnected: {alice} (logged out)')


async def test_refusals_come_back_as_outcomes(vc_server: AppServer) -> None:
    (alice, alice_pw), (bob, bob_pw) = vc_server.add_user(), vc_server.add_user()
    async with VoiceClient(vc_server.url, alice, alice_pw) as a:
        with pytest.raises(CallRefused) as offline:
            await a.call(bob)
        assert offline.value.outcome == 'offline'
        async with VoiceClient(vc_server.url, bob, bob_pw) as b:

            async def bob_declines() -> None:
                await (await b.next_incoming(timeout=10)).decline()

            declining = asyncio.create_task(bob_declines())
            with pytest.raises(CallRefused) as declined:
                await a.call(bob)
            await declining
    assert declined.value.outcome == 'declined'


async def test_a_wrong_password_or_no_server_is_one_clear_error(vc_server: AppServer) -> None:
    alice, _ = vc_server.add_user()
    with pytest.raises(VoiceClientError, match='Wrong username or password'):
        async with VoiceClient(vc_server.url, alice, 'not the password'):
            pass
    with pytest.raises(VoiceClientError, match='Cannot reach'):
        async with VoiceClient('http://127.0.0.1:9', alice, 'whatever'):
            pass


async def test_a_signaling_blip_mid_call_does_not_end_the_call(vc_server: AppServer, tmp_path: Path) -> None:
    """Bob's socket drops under him mid-call (the websocket closes, as on a network change): the client
    reconnects by itself, takes its own tab back, and the call and its voice carry on."""
    (alice, alice_pw), (bob, bob_pw) = vc_server.add_user(), vc_server.add_user()
    bob_tone = write_tone_wav(tmp_path / 'b.wav', 660, 20)
    async with VoiceClient(vc_server.url, alice, alice_pw) as a, VoiceClient(vc_server.url, bob, bob_pw) as b:

        async def bob_answers() -> Call:
            return await (await b.next_incoming(timeout=10)).accept()

        answering = asyncio.create_task(bob_answers())
        call = await a.call(bob)
        bob_call = await answering
        playing = asyncio.create_task(bob_call.play(bob_tone))
        await call.record(tmp_path / 'before.wav', seconds=1)
        mark = vc_server.log_mark()

        assert b._sio is not None
        await b._sio.eio.ws.close()  # the blip
        vc_server.wait_for_log(f'📶 {bob} reconnecting', since=mark)
        await asyncio.to_thread(vc_server.wait_for_log, f'📶 {bob} reconnected', since=mark)

        after = await call.record(tmp_path / 'after.wav', seconds=2)
        assert call.live and bob_call.live
        assert abs(dominant_frequency(after) - 660) <= TOLERANCE_HZ
        assert 'Call ended' not in vc_server.log_text()[mark:]
        await call.hang_up()
        await playing


async def test_two_programs_use_the_sound_test_at_once_and_each_hears_itself(
    vc_server: AppServer, tmp_path: Path
) -> None:
    """Never busy: each caller gets a session of their own, which records them and plays it back."""

    async def sound_test(hz: int) -> str:
        name, password = vc_server.add_user()
        tone = write_tone_wav(tmp_path / f'{hz}.wav', hz, 6)
        async with VoiceClient(vc_server.url, name, password) as client:
            call = await client.call('Sound test')
            assert call.peer == 'Sound test'
            playing = asyncio.create_task(call.play(tone))
            await asyncio.sleep(5.5)  # it records 5 s, then plays them back
            heard = await call.record(tmp_path / f'back-{hz}.wav', seconds=3)
            assert await call.ended == 'completed'  # it hangs up after playing back
            await playing
        assert abs(dominant_frequency(heard) - hz) <= TOLERANCE_HZ
        return name

    first, second = await asyncio.gather(sound_test(550), sound_test(880))
    for name in (first, second):
        vc_server.wait_for_log(f'✅ Call answered: {name} → Sound test/{name}')
    assert 'Check CandidatePair' not in vc_server.log_text()  # aiortc's ICE chatter stays out of the app's log
