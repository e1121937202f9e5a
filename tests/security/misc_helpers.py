"""Tools for tests/security/test_misc.py: page loads from chosen loopback addresses, the app's own gauges, and
coturn started on a given configuration."""

import http.client
import re
import time
from pathlib import Path

from voiceconnect.testing.servers import AppServer, Server, free_port

_last_headers: dict[str, str] = {}


def get(server: AppServer, path: str, source: str = '127.0.0.1') -> int:
    """One page load with no cookie (a new browser, or curl) from `source` (any 127.x.y.z: all of 127/8 is this
    host's); returns the status (`last_headers()` its headers)."""
    connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=30, source_address=(source, 0))
    try:
        connection.request('GET', path)
        response = connection.getresponse()
        response.read()
        _last_headers.clear()
        _last_headers.update({name.lower(): value for name, value in response.getheaders()})
        return response.status
    finally:
        connection.close()


def last_headers() -> dict[str, str]:
    return dict(_last_headers)


def gauge(server: AppServer, name: str) -> float | None:
    """A value of the app's GET /metrics (answered to loopback); None if it has no such gauge."""
    connection = http.client.HTTPConnection('127.0.0.1', server.port, timeout=10)
    try:
        connection.request('GET', '/metrics')
        text = connection.getresponse().read().decode()
    finally:
        connection.close()
    found = re.search(rf'^{re.escape(name)} (\S+)$', text, re.MULTILINE)
    return float(found.group(1)) if found else None


def rss_mb(server: AppServer) -> float:
    assert server.process is not None
    status = Path(f'/proc/{server.process.pid}/status').read_text()
    return int(re.search(r'^VmRSS:\s+(\d+)', status, re.MULTILINE).group(1)) / 1024  # type: ignore[union-attr]


def readme_block(readme: Path, after: str) -> str:
    """The first fenced block of the README after the line `after`."""
    text = readme.read_text()
    rest = text[text.index(after) + len(after) :]
    return rest.split('```\n', 1)[1].split('```', 1)[0]


class ConfiguredCoturn(Server):
    """coturn on nothing but a configuration file (its ports moved to free loopback ones) and where its files go."""

    what = 'turnserver'
    start_timeout_s = 10.0

    def __init__(self, config: str, directory: Path) -> None:
        super().__init__(directory / 'turnserver.log', cwd=directory)
        self.config = re.sub(r'^listening-port=\d+$', f'listening-port={free_port()}', config, flags=re.MULTILINE)
        self.config += f'listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\ntls-listening-port={free_port()}\n'
        self.directory = directory

    def command(self) -> list[str]:
        conf = self.directory / 'turnserver.conf'
        conf.write_text(self.config)
        files = [
            '--log-file',
            'stdout',
            '--db',
            str(self.directory / 'turndb'),
            '--pidfile',
            str(self.directory / 'turn.pid'),
        ]
        return ['turnserver', '-c', str(conf), *files]

    def answers(self) -> bool:
        return 'Total General servers' in self.log_text()


def coturn_log(config: str, directory: Path) -> str:
    """Start coturn on `config`, let it come up, stop it; its log."""
    with ConfiguredCoturn(config, directory) as coturn:
        time.sleep(0.3)
    return coturn.log_text()
