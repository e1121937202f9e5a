"""Three Python voice clients in one group call over the mesh: alice calls bob, adds carol; each hears both others'
tones, each on its own peer connection; carol leaves and alice and bob still hear each other."""

import asyncio
from pathlib import Path

import pytest

from voiceconnect.client import Call, CallRefused, VoiceClient
from voiceconnect.testing.audio import dominant_frequency, write_tone_wav
from voiceconnect.testing.servers import AppServer

TOLERANCE_HZ = 15
TONES = {'alice': 440, 'bob': 660, 'carol': 880}


async def test_three_clients_each_hear_the_two_others(vc_server: AppServer, tmp_path: Path) -> None:
    users = {name: vc_server.add_user() for name in TONES}
    tones = {name: write_tone_wav(tmp_path / f'{name}.wav', hz, 20) for name, hz in TONES.items()}
    (alice, a_pw), (bob, b_pw), (carol, c_pw) = users['alice'], users['bob'], users['carol']
    names = {alice: 'alice', bob: 'bob', carol: 'carol'}
    async with (
        VoiceClient(vc_server.url, alice, a_pw) as a,
        VoiceClient(vc_server.url, bob, b_pw) as b,
        VoiceClient(vc_server.url, carol, c_pw) as c,
    ):

        async def bob_answers() -> Call:
            return await (await b.next_incoming(timeout=10)).accept()

        async def carol_joins() -> Call:
            incoming = await c.next_incoming(timeout=10)
            assert (incoming.inviter, incoming.others) == (alice, [bob])
            return await incoming.accept()

        answering = asyncio.create_task(bob_answers())
        a_call = await a.call(bob)
        b_call = await answering
        joining = asyncio.create_task(carol_joins())
        await a_call.add(carol, timeout=10)
        c_call = await joining
        calls = {alice: a_call, bob: b_call, carol: c_call}
        for call in calls.values():
            await asyncio.wait_for(_until(lambda call=call: len(call.participants) == 3), 5)

        playing = [asyncio.create_task(call.play(tones[names[user]])) for user, call in calls.items()]
        heard = {
            (me, other): asyncio.create_task(call.record_from(other, tmp_path / f'{me}-{other}.wav', seconds=2))
            for me, call in calls.items()
            for other in calls
            if other != me
        }
        await asyncio.gather(*heard.values())
        for (me, other), recording in heard.items():
            got = dominant_frequency(recording.result())
            assert abs(got - TONES[names[other]]) <= TOLERANCE_HZ, f'{names[me]} heard {got:.0f} Hz from {names[other]}'

        await c_call.hang_up()
        await asyncio.wait_for(_until(lambda: a_call.participants == [alice, bob]), 5)
        assert a_call.live and b_call.live
        after = await a_call.record_from(bob, tmp_path / 'alice-bob-after.wav', seconds=1.5)
        assert abs(dominant_frequency(after) - TONES['bob']) <= TOLERANCE_HZ
        for task in playing:
            task.cancel()
        assert await a_call.hang_up() == 'completed'
    vc_server.wait_for_log(f'👥 Joined: {carol} ({alice} → {bob} +1)')
    vc_server.wait_for_log(f'👥 Left: {carol}')


async def test_a_program_is_told_why_it_cannot_add_someone(vc_server: AppServer) -> None:
    (alice, a_pw), (bob, b_pw), (carol, _) = vc_server.add_user(), vc_server.add_user(), vc_server.add_user()
    async with VoiceClient(vc_server.url, alice, a_pw) as a, VoiceClient(vc_server.url, bob, b_pw) as b:
        answering = asyncio.create_task(_accept_next(b))
        call = await a.call(bob)
        await answering
        for name, outcome in ((bob, 'already_in_call'), (alice, 'yourself'), (carol, 'offline')):
            with pytest.raises(CallRefused) as refused:
                await call.add(name, timeout=5)
            assert refused.value.outcome == outcome
        assert await call.hang_up() == 'completed'


async def _accept_next(client: VoiceClient) -> Call:
    return await (await client.next_incoming(timeout=10)).accept()


async def _until(condition: object) -> None:
    assert callable(condition)
    while not condition():
        await asyncio.sleep(0.02)
