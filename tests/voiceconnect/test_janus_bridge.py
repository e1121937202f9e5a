"""The Janus AudioBridge client against a real janus (Debian's, started once for the session by `janus_server`):
rooms, tokens, three aiortc participants each hearing the mix of the others, talking events, and a Janus that dies
or hangs mid-call."""

import asyncio
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import pytest

from voiceconnect.bridge.janus import (
    BridgeEvent,
    BridgeLost,
    JanusBridge,
    JanusError,
    JanusTimeout,
    JanusUnavailable,
    ParticipantLeft,
    Talking,
)
from voiceconnect.testing.audio import tone_levels, tone_power
from voiceconnect.testing.janus import BridgePeer, JanusServer
from voiceconnect.testing.servers import free_port

TONES = [440.0, 660.0, 880.0]
HEARD = 0.1  # a voice in the mix: at least a tenth of the loudest tone's power
ABSENT = 0.01  # a voice not in it (its own, one who left or is muted): under a hundredth


def bridge_to(janus: JanusServer, **options: float) -> JanusBridge:
    return JanusBridge(janus.url, api_secret=janus.api_secret, admin_key=janus.admin_key, **options)


@pytest.fixture
async def bridge(janus_server: JanusServer) -> AsyncIterator[JanusBridge]:
    async with bridge_to(janus_server) as bridge:
        yield bridge


@pytest.fixture
def own_janus(tmp_path: Path) -> Iterator[JanusServer]:
    """A janus of the test's own, for tests that kill or hang it."""
    with JanusServer(tmp_path / 'janus') as janus:
        yield janus


async def until(condition: Callable[[], bool], what: str, timeout: float = 5) -> None:
    """Wait, without blocking the loop, until `condition()` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f'{what} within {timeout:g} s'
        await asyncio.sleep(0.05)


async def test_a_room_is_created_and_destroyed(bridge: JanusBridge) -> None:
    room = await bridge.create_room(tokens=['t-alice'])
    assert await bridge.participants(room) == []
    await bridge.destroy_room(room)
    with pytest.raises(JanusError) as refused:
        await bridge.participants(room)
    assert 'No such room' in str(refused.value)


async def test_a_join_without_the_room_s_token_is_refused(bridge: JanusBridge, tmp_path: Path) -> None:
    room = await bridge.create_room(tokens=['t-alice'])
    peer = BridgePeer(440, tmp_path)
    try:
        for token in ('t-mallory', ''):
            with pytest.raises(JanusError) as refused:
                await peer.join(bridge, room, token)
            assert 'Unauthorized' in str(refused.value), refused.value
        assert await bridge.participants(room) == []
        await bridge.allow(room, ['t-bob'])
        await bridge.disallow(room, ['t-alice'])
        with pytest.raises(JanusError, match='Unauthorized'):
            await peer.join(bridge, room, 't-alice')
    finally:
        await peer.close()
        await bridge.destroy_room(room)


async def test_three_participants_each_hear_the_other_two_and_not_themselves(
    bridge: JanusBridge, tmp_path: Path
) -> None:
    events: list[BridgeEvent] = []
    bridge.on_event(events.append)
    tokens = [f't-{hz:g}' for hz in TONES]
    room = await bridge.create_room(tokens=tokens)
    peers = [BridgePeer(hz, tmp_path) for hz in TONES]
    try:
        for peer in peers:
            peer.speak(30)
        await asyncio.gather(*(peer.join(bridge, room, token) for peer, token in zip(peers, tokens, strict=True)))
        await asyncio.sleep(1.0)  # the mix settles (each participant's prebuffer, Opus's start)
        recordings = await asyncio.gather(*(peer.record(1.0) for peer in peers))
        for peer, recording in zip(peers, recordings, strict=True):
            levels = dict(zip(TONES, tone_levels(recording, TONES), strict=True))
            for hz, level in levels.items():
                if hz == peer.tone_hz:
                    assert level < ABSENT, f'{peer.tone_hz:g} Hz hears itself in the mix: {levels}'
                else:
                    assert level > HEARD, f'{peer.tone_hz:g} Hz does not hear {hz:g} Hz: {levels}'

        ids = {peer.tone_hz: peer.participant.id for peer in peers if peer.participant}
        await until(lambda: all(Talking(room.id, i, True) in events for i in ids.values()), 'everyone talking')

        leaver, *staying = peers
        assert leaver.participant is not None
        await leaver.participant.leave()
        await until(lambda: ParticipantLeft(room.id, ids[leaver.tone_hz]) in events, 'the leaver told as left')
        assert events.count(ParticipantLeft(room.id, ids[leaver.tone_hz])) == 1  # once, not once per handle
        await asyncio.sleep(0.5)
        for peer, other in (staying, staying[::-1]):
            levels = dict(zip(TONES, tone_levels(await peer.record(1.0), TONES), strict=True))
            assert levels[other.tone_hz] > HEARD, f'{peer.tone_hz:g} Hz no longer hears {other.tone_hz:g}: {levels}'
            assert levels[leaver.tone_hz] < ABSENT, f'{peer.tone_hz:g} Hz still hears who left: {levels}'

        quiet = staying[0]
        quiet.hush()
        await until(lambda: Talking(room.id, ids[quiet.tone_hz], False) in events, 'stopped talking', timeout=8)
    finally:
        await asyncio.gather(*(peer.close() for peer in peers))
        await bridge.destroy_room(room)


async def test_a_muted_participant_is_not_in_the_mix(bridge: JanusBridge, tmp_path: Path) -> None:
    room = await bridge.create_room(tokens=['t-a', 't-b'])
    speaker, listener = BridgePeer(550, tmp_path), BridgePeer(770, tmp_path)
    try:
        speaker.speak(20)
        for peer, token in ((speaker, 't-a'), (listener, 't-b')):
            await peer.join(bridge, room, token)
        assert speaker.participant is not None
        await speaker.participant.trickle(None)  # aiortc put every candidate in its offer: "that was all"
        await speaker.participant.configure(muted=True)
        await asyncio.sleep(0.5)
        muted = tone_power(await listener.record(0.5), 550, window_s=0.5)
        await speaker.participant.configure(muted=False)
        await asyncio.sleep(0.5)
        unmuted = tone_power(await listener.record(0.5), 550, window_s=0.5)
        assert unmuted > 0 and muted < unmuted / 100, (muted, unmuted)
    finally:
        await asyncio.gather(speaker.close(), listener.close())
        await bridge.destroy_room(room)


async def test_janus_killed_mid_call_is_a_clear_error(own_janus: JanusServer, tmp_path: Path) -> None:
    events: list[BridgeEvent] = []
    async with bridge_to(own_janus) as bridge:
        bridge.on_event(events.append)
        room = await bridge.create_room(tokens=['t-a'])
        peer = BridgePeer(440, tmp_path)
        peer.speak(10)
        try:
            await peer.join(bridge, room, 't-a')
            own_janus.crash()
            await until(lambda: any(isinstance(event, BridgeLost) for event in events), 'the bridge told as lost', 3)
            started = time.monotonic()
            with pytest.raises(JanusUnavailable, match=re.escape(f'Janus at {own_janus.url}')):
                await bridge.create_room(tokens=['t-b'])
            assert time.monotonic() - started < 0.5  # at once, not after a time-out
            assert [type(event) for event in events].count(BridgeLost) == 1
        finally:
            await peer.close()


async def test_a_hung_janus_times_out_instead_of_hanging(own_janus: JanusServer) -> None:
    async with bridge_to(own_janus, request_timeout_s=1.0) as bridge:
        own_janus.pause()
        try:
            started = time.monotonic()
            with pytest.raises(JanusTimeout, match='did not answer'):
                await bridge.create_room(tokens=['t-a'])
            assert time.monotonic() - started < 2
        finally:
            own_janus.resume()


async def test_keep_alives_hold_the_session_past_janus_s_session_timeout(tmp_path: Path) -> None:
    with JanusServer(tmp_path / 'janus', session_timeout_s=1) as janus:
        async with bridge_to(janus, keepalive_s=0.3) as kept, bridge_to(janus, keepalive_s=60) as silent:
            # the silent one's session times out (janus looks every couple of seconds), the kept one's does not
            await until(lambda: silent.lost is not None, 'the silent session timed out', timeout=8)
            await asyncio.sleep(2.5)  # another look of janus's at its sessions
            with pytest.raises(JanusUnavailable):
                await silent.create_room(tokens=['t-a'])
            assert kept.lost is None
            await kept.destroy_room(await kept.create_room(tokens=['t-a']))


async def test_no_janus_there_is_a_clear_error() -> None:
    started = time.monotonic()
    url = f'ws://127.0.0.1:{free_port()}'
    with pytest.raises(JanusUnavailable, match=re.escape(f'cannot reach Janus at {url}')):
        await JanusBridge(url, request_timeout_s=2).open()
    assert time.monotonic() - started < 2.5
