"""A configuration of our own for Janus Gateway (Debian's `janus` 1.1.2), written to a directory per run.

Debian's /etc/janus is never used: its `admin_secret = "janusoverlord"` and its demo room (`secret = "adminpwd"`)
are public knowledge. What is written here loads only what a group call needs, the AudioBridge plugin and the
WebSocket transport (folders of links to those two libraries, so no other plugin is even loaded); no HTTP API and
no Admin API; an API secret every request must carry, made up per run unless given; the AudioBridge's `admin_key`
(rooms are created by the server only) and no static room; sessions that time out when their keep-alives stop.

`scripts/cluster.sh --janus` and the tests' `JanusServer` write theirs with this module:

    python -m voiceconnect.bridge.janus_config DIR --port 8188   # prints the URL, the API secret, the admin key
"""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from dataclasses import dataclass, field
from pathlib import Path

LIBRARIES = Path('/usr/lib/x86_64-linux-gnu/janus')  # Debian's janus 1.1.2
PLUGINS = ('libjanus_audiobridge.so',)
TRANSPORTS = ('libjanus_websockets.so',)


def _made_up() -> str:
    return secrets.token_urlsafe(24)


@dataclass(frozen=True)
class JanusConfig:
    """Where janus serves its WebSocket API (`ws_ip`:`ws_port`), the secrets it asks for, and, when given, the one
    address its ICE uses (`ice_address`, e.g. one end of the tests' veth pair) and its media ports."""

    directory: Path
    ws_port: int
    ws_ip: str = '127.0.0.1'
    api_secret: str = field(default_factory=_made_up)
    admin_key: str = field(default_factory=_made_up)
    session_timeout_s: int = 60
    ice_address: str | None = None
    rtp_port_range: str | None = None
    debug_level: int = 4  # janus's "info": start-up, sessions, no per-packet lines
    libraries: Path = LIBRARIES

    @property
    def url(self) -> str:
        return f'ws://{self.ws_ip}:{self.ws_port}'

    @property
    def config_dir(self) -> Path:
        return self.directory / 'conf'

    def command(self) -> list[str]:
        """janus in the foreground, on this configuration only."""
        return ['janus', f'--configs-folder={self.config_dir}', f'--config={self.config_dir / "janus.jcfg"}']

    def write(self) -> JanusConfig:
        """The configuration files, and folders of links to the two libraries janus may load."""
        self.config_dir.mkdir(parents=True, exist_ok=True)
        self.config_dir.chmod(0o700)  # the secrets are in there
        for folder, names, kind in (('plugins', PLUGINS, 'plugins'), ('transports', TRANSPORTS, 'transports')):
            _link_only(self.directory / folder, [self.libraries / kind / name for name in names])
        (self.directory / 'none').mkdir(exist_ok=True)  # no event handlers, no loggers
        (self.config_dir / 'janus.jcfg').write_text(self._core())
        (self.config_dir / 'janus.transport.websockets.jcfg').write_text(self._websockets())
        (self.config_dir / 'janus.plugin.audiobridge.jcfg').write_text(self._audiobridge())
        return self

    def _core(self) -> str:
        nat = f'  ice_enforce_list = {_quoted(self.ice_address)}\n' if self.ice_address else ''
        media = f'  rtp_port_range = {_quoted(self.rtp_port_range)}\n' if self.rtp_port_range else ''
        interface = f'  interface = {_quoted(self.ice_address)}\n' if self.ice_address else ''
        return (
            'general: {\n'
            f'  configs_folder = {_quoted(str(self.config_dir))}\n'
            f'  plugins_folder = {_quoted(str(self.directory / "plugins"))}\n'
            f'  transports_folder = {_quoted(str(self.directory / "transports"))}\n'
            f'  events_folder = {_quoted(str(self.directory / "none"))}\n'
            f'  loggers_folder = {_quoted(str(self.directory / "none"))}\n'
            f'  debug_level = {int(self.debug_level)}\n'
            '  log_to_stdout = true\n'
            f'  admin_secret = {_quoted(_made_up())}\n'  # no Admin API is loaded; a secret nobody knows all the same
            f'  api_secret = {_quoted(self.api_secret)}\n'
            f'  session_timeout = {int(self.session_timeout_s)}\n'
            '  reclaim_session_timeout = 0\n'
            '  hide_dependencies = true\n'
            '  server_name = "voiceconnect"\n'
            f'{interface}'
            '}\n'
            f'media: {{\n{media}}}\n'
            f'nat: {{\n  nice_debug = false\n{nat}}}\n'
            'events: {\n  broadcast = false\n}\n'
        )

    def _websockets(self) -> str:
        return (
            'general: {\n'
            '  json = "plain"\n'
            '  ws = true\n'
            f'  ws_port = {int(self.ws_port)}\n'
            f'  ws_ip = {_quoted(self.ws_ip)}\n'
            '  wss = false\n'
            '}\n'
            'admin: {\n  admin_ws = false\n  admin_wss = false\n}\n'
        )

    def _audiobridge(self) -> str:
        # its own guess of an address (for plain-RTP participants, which no room allows) warns without one
        local_ip = f'  local_ip = {_quoted(self.ice_address)}\n' if self.ice_address else ''
        return (
            'general: {\n'
            f'  admin_key = {_quoted(self.admin_key)}\n'  # only who holds it creates rooms: the server
            '  lock_rtp_forward = true\n'
            '  lock_play_file = true\n'
            '  events = false\n'
            f'{local_ip}'
            '}\n'
        )


def _quoted(value: str) -> str:
    """A libconfig string: JSON's escaping is a subset of what it reads."""
    return json.dumps(value)


def _link_only(folder: Path, libraries: list[Path]) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.iterdir():
        stale.unlink()
    for library in libraries:
        (folder / library.name).symlink_to(library)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog='python -m voiceconnect.bridge.janus_config',
        description='Write a Janus configuration of our own (AudioBridge and WebSockets only, fresh secrets) to DIR; '
        'print the WebSocket URL, the API secret and the AudioBridge admin key, one a line.',
    )
    parser.add_argument('directory', type=Path)
    parser.add_argument('--port', type=int, required=True, help='the WebSocket API port')
    parser.add_argument('--ip', default='127.0.0.1', help='the address the WebSocket API binds to')
    parser.add_argument('--session-timeout', type=int, default=60)
    parser.add_argument('--ice-address', help='the only address ICE may use (default: every interface)')
    parser.add_argument('--rtp-port-range', help='e.g. 20000-40000')
    args = parser.parse_args(argv)
    config = JanusConfig(
        args.directory.resolve(),
        args.port,
        ws_ip=args.ip,
        session_timeout_s=args.session_timeout,
        ice_address=args.ice_address,
        rtp_port_range=args.rtp_port_range,
    ).write()
    print(config.url, config.api_secret, config.admin_key, sep='\n')
    return 0


if __name__ == '__main__':
    sys.exit(main())
