"""Janus as someone other than the server would try it: without the API secret, without the AudioBridge's admin key,
with a room's id but not its secret, or with Debian's shipped secrets; and what the janus we start loads and holds."""

import re
import stat
from collections.abc import AsyncIterator

import pytest

from voiceconnect.bridge.janus import JanusBridge, JanusError
from voiceconnect.testing.janus import JanusServer

SHIPPED_SECRETS = ('janusoverlord', 'adminpwd', 'janusrocks', 'supersecret')  # Debian's /etc/janus, Janus's docs


@pytest.fixture
async def server_side(janus_server: JanusServer) -> AsyncIterator[JanusBridge]:
    """The bridge as the app holds it: every secret."""
    async with JanusBridge(
        janus_server.url, api_secret=janus_server.api_secret, admin_key=janus_server.admin_key
    ) as bridge:
        yield bridge


@pytest.mark.parametrize('secret', [None, '', 'janusoverlord', 'janusrocks', 'a-guess'])
async def test_without_the_api_secret_janus_answers_nothing(janus_server: JanusServer, secret: str | None) -> None:
    with pytest.raises(JanusError, match='Unauthorized') as refused:
        await JanusBridge(janus_server.url, api_secret=secret).open()
    assert refused.value.code == 403


@pytest.mark.parametrize('key', [None, 'supersecret', 'a-guess'])
async def test_without_the_admin_key_no_room_is_created(janus_server: JanusServer, key: str | None) -> None:
    """Only the server creates rooms, even for someone who learnt the API secret."""
    async with JanusBridge(janus_server.url, api_secret=janus_server.api_secret, admin_key=key) as stranger:
        with pytest.raises(JanusError, match=r'AudioBridge: .*admin_key'):
            await stranger.create_room(tokens=['t-x'])


async def test_a_room_s_id_without_its_secret_changes_nothing(server_side: JanusBridge) -> None:
    room = await server_side.create_room(tokens=['t-alice'])
    try:
        guessed = type(room)(room.id, 'adminpwd')
        for attempt in (
            server_side.destroy_room(guessed),
            server_side.allow(guessed, ['t-mallory']),
            server_side.kick(guessed, 1),
        ):
            with pytest.raises(JanusError, match=r'AudioBridge: Unauthorized'):
                await attempt
        assert await server_side.participants(room) == []  # still there, still empty
    finally:
        await server_side.destroy_room(room)


def test_our_janus_loads_the_audiobridge_and_websockets_only(janus_server: JanusServer) -> None:
    log = janus_server.log_text()
    assert re.findall(r"Loading plugin '([^']+)'", log) == ['libjanus_audiobridge.so']
    assert re.findall(r"Loading transport plugin '([^']+)'", log) == ['libjanus_websockets.so']
    assert 'Admin WebSockets server started' not in log and 'HTTP' not in log  # no Admin API, no HTTP API


def test_our_janus_config_holds_no_shipped_secret_no_static_room_and_is_private(janus_server: JanusServer) -> None:
    conf = janus_server.config.config_dir
    written = {path.name: path.read_text() for path in conf.iterdir()}
    assert set(written) == {'janus.jcfg', 'janus.plugin.audiobridge.jcfg', 'janus.transport.websockets.jcfg'}
    for text in written.values():
        assert not any(secret in text for secret in SHIPPED_SECRETS)
        assert not re.search(r'^\s*room-', text, re.MULTILINE)
    assert 'admin_ws = false' in written['janus.transport.websockets.jcfg']
    assert stat.S_IMODE(conf.stat().st_mode) == 0o700
