"""Group calls on the audio bridge, against a real Janus (Debian's, `janus_server`) and the real app, with Python
voice clients (aiortc) playing distinct tones: a call past MESH_MAX moves to an AudioBridge room, each member hears
the mix of the others (FFT: every other tone, not its own), a mesh call going on moves when one more person is
added without anyone accepting again, the room is destroyed when the call ends, and a Janus that dies makes the
bridged media fail with a clear reason while the app still serves 1:1 calls."""

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from pathlib import Path
from typing import Any

import pytest

from voiceconnect.bridge.janus import JanusBridge
from voiceconnect.client import Call, VoiceClient
from voiceconnect.testing.audio import tone_levels, write_tone_wav
from voiceconnect.testing.janus import JanusServer
from voiceconnect.testing.servers import PROJECT_DIR, AppServer

# well apart and no one a harmonic of another; quiet enough that five in one mix do not clip
TONES = [410.0, 570.0, 730.0, 950.0, 1210.0]
HEARD = 0.1  # a voice in the mix: at least a tenth of the loudest tone's power
ABSENT = 0.02  # a voice not in it (its own, one who left): under a fiftieth
EVERYONE = 'everyone'  # the bridge's end of each tab's one link


def janus_settings(janus: JanusServer, **more: Any) -> dict[str, Any]:
    return {'JANUS_URL': janus.url, 'JANUS_API_SECRET': janus.api_secret, 'JANUS_ADMIN_KEY': janus.admin_key, **more}


def app_with(janus: JanusServer, root: Path, **more: Any) -> AppServer:
    return AppServer(PROJECT_DIR, root / 'data', root / 'server.log', janus_settings(janus, **more))


@pytest.fixture
async def janus_rooms(janus_server: JanusServer) -> AsyncIterator[JanusBridge]:
    """Janus asked directly, with the admin key: which rooms it holds."""
    async with JanusBridge(
        janus_server.url, api_secret=janus_server.api_secret, admin_key=janus_server.admin_key
    ) as bridge:
        yield bridge


class Group:
    """People (voice clients) of one app, each with a tone; `calls` once they are in the call."""

    def __init__(self, server: AppServer, n: int, directory: Path) -> None:
        self.server = server
        self.accounts = [server.add_user() for _ in range(n)]
        self.names = [name for name, _ in self.accounts]
        self.tone = {name: TONES[i] for i, name in enumerate(self.names)}
        self.wavs = {
            name: write_tone_wav(directory / f'{name}.wav', hz, 40, amplitude=0.08) for name, hz in self.tone.items()
        }
        self.directory = directory
        self.clients: dict[str, VoiceClient] = {}
        self.calls: dict[str, Call] = {}
        self._playing: list[asyncio.Task[None]] = []

    async def connect(self, stack: AsyncExitStack) -> None:
        for name, password in self.accounts:
            self.clients[name] = await stack.enter_async_context(VoiceClient(self.server.url, name, password))

    async def start(self, host: str, first: str) -> None:
        """`host` calls `first`, who answers."""
        answering = asyncio.create_task(_accept_next(self.clients[first]))
        self.calls[host] = await self.clients[host].call(first)
        self.calls[first] = await answering

    async def add(self, host: str, name: str) -> None:
        """`host` adds `name`, who accepts."""
        joining = asyncio.create_task(_accept_next(self.clients[name]))
        await self.calls[host].add(name, timeout=15)
        self.calls[name] = await joining

    def play(self, *names: str) -> None:
        for name in names:
            self._playing.append(asyncio.create_task(self.calls[name].play(self.wavs[name])))

    def stop_playing(self) -> None:
        for task in self._playing:
            task.cancel()

    async def until_hearing(self, listener: str, voices: list[str], timeout: float = 15) -> dict[float, float]:
        """Record what `listener` hears of the bridge until it carries each of `voices` and nobody else's of the
        group's (its own included); the last levels."""
        deadline = time.monotonic() + timeout
        tones = list(self.tone.values())
        while True:
            pcm_path = await self.calls[listener].record_from(EVERYONE, self.directory / f'{listener}-heard.wav', 1.0)
            levels = dict(zip(tones, tone_levels(pcm_path, tones), strict=True))
            wanted = {self.tone[v] for v in voices}
            if all(levels[hz] > HEARD if hz in wanted else levels[hz] < ABSENT for hz in tones):
                return levels
            assert time.monotonic() < deadline, f'{listener} should hear {sorted(wanted)} only, heard {levels}'
            await asyncio.sleep(0.2)


async def _accept_next(client: VoiceClient) -> Call:
    return await (await client.next_incoming(timeout=15)).accept()


async def _until(condition: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.05)


@pytest.fixture
def bridge_app(janus_server: JanusServer, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[AppServer]:
    mesh_max = getattr(request, 'param', 2)
    server = app_with(janus_server, tmp_path / 'app', MESH_MAX=mesh_max)
    server.start()
    yield server
    server.stop()


@pytest.mark.parametrize('bridge_app', [2], indirect=True)
async def test_three_on_the_bridge_each_hear_the_two_others_and_the_room_goes_with_the_call(
    bridge_app: AppServer, janus_rooms: JanusBridge, tmp_path: Path
) -> None:
    before = await janus_rooms.rooms()
    group = Group(bridge_app, 3, tmp_path)
    alice, bob, carol = group.names
    async with AsyncExitStack() as stack:
        await group.connect(stack)
        await group.start(alice, bob)
        await group.add(alice, carol)  # a third person: past MESH_MAX=2, the call moves to the bridge
        group.play(alice, bob, carol)
        for me in group.names:
            await group.until_hearing(me, [other for other in group.names if other != me])
        assert len(await janus_rooms.rooms() - before) == 1  # one room for the call

        assert await group.calls[carol].hang_up() == 'hung_up' or not group.calls[carol].live
        await _until(lambda: group.calls[alice].participants == [alice, bob], 'carol gone')
        await group.until_hearing(alice, [bob])
        await group.until_hearing(bob, [alice])
        group.stop_playing()
        assert await group.calls[alice].hang_up() == 'completed'
    await _until_async(lambda: janus_rooms.rooms(), before, 'the room destroyed with the call')
    log = bridge_app.log_text()
    assert f'🌉 Call moved to the audio bridge: {alice} → {bob} (3 people)' in log
    assert 'Traceback' not in log


async def _until_async(ask: Any, wanted: Any, what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while (got := await ask()) != wanted:
        assert time.monotonic() < deadline, f'{what}: {got} != {wanted}'
        await asyncio.sleep(0.1)


@pytest.mark.parametrize('bridge_app', [4], indirect=True)
async def test_a_mesh_call_of_four_moves_to_the_bridge_when_a_fifth_joins_and_nobody_accepts_again(
    bridge_app: AppServer, tmp_path: Path
) -> None:
    group = Group(bridge_app, 5, tmp_path)
    host, *others = group.names
    async with AsyncExitStack() as stack:
        await group.connect(stack)
        await group.start(host, others[0])
        for name in others[1:3]:
            await group.add(host, name)  # four in the mesh
        first = dict(group.calls)
        await group.add(host, others[3])  # the fifth: the call moves
        group.play(*group.names)
        for me in group.names:
            await group.until_hearing(me, [other for other in group.names if other != me], timeout=25)
        for name, call in first.items():  # the same calls, still live: nobody accepted or called again
            assert group.calls[name] is call and call.live, name
        group.stop_playing()
        await group.calls[host].hang_up()
    log = bridge_app.log_text()
    assert f'🌉 Call moved to the audio bridge: {host} → {others[0]} (5 people)' in log
    assert 'Traceback' not in log


async def test_janus_killed_mid_call_fails_the_bridged_media_clearly_and_1to1_calls_go_on(
    tmp_path: Path,
) -> None:
    with JanusServer(tmp_path / 'own-janus') as janus:
        server = app_with(janus, tmp_path / 'app', MESH_MAX=2)
        server.start()
        try:
            group = Group(server, 5, tmp_path)
            alice, bob, carol, dave, erin = group.names
            async with AsyncExitStack() as stack:
                await group.connect(stack)
                await group.start(alice, bob)
                await group.add(alice, carol)
                group.play(alice, bob, carol)
                await group.until_hearing(alice, [bob, carol])
                janus.crash()
                for name in (alice, bob, carol):
                    await asyncio.wait_for(asyncio.shield(group.calls[name].ended), 20)
                server.wait_for_log('bridge_lost', timeout=20)
                group.stop_playing()

                answering = asyncio.create_task(_accept_next(group.clients[erin]))  # 1:1 needs no bridge
                call = await group.clients[dave].call(erin)
                await answering
                assert await call.hang_up() == 'completed'
            log = server.log_text()
            assert '🌉 Audio bridge lost' in log
            assert 'Traceback' not in log
        finally:
            server.stop()
