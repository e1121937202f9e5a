"""Tools for tests/security/test_misc.py: page loads from chosen loopback addresses, the app's own gauges, and
coturn started on a given configuration."""

import http.client
import re
import subprocess
import time
from pathlib import Path

from voiceconnect.testing.servers import AppServer, free_port
from voiceconnect.testing.waiting import wait_until

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


def coturn_log(config: str, directory: Path) -> str:
    """Start coturn on `config` (its ports moved to free loopback ones), let it come up, stop it; its log."""
    port = free_port()
    conf = directory / 'turnserver.conf'
    conf.write_text(
        re.sub(r'^listening-port=\d+$', f'listening-port={port}', config, flags=re.MULTILINE)
        + f'listening-ip=127.0.0.1\nrelay-ip=127.0.0.1\ntls-listening-port={free_port()}\n'
    )
    log = directory / 'turnserver.log'
    files = ['--log-file', 'stdout', '--db', str(directory / 'turndb'), '--pidfile', str(directory / 'turn.pid')]
    with log.open('wb') as out:
        process = subprocess.Popen(['turnserver', '-c', str(conf), *files], stdout=out, stderr=out)
        try:
            wait_until(lambda: 'Total General servers' in log.read_text(errors='replace'), 'coturn did not start', 10)
            time.sleep(0.3)
        finally:
            process.terminate()
            process.wait(5)
    return log.read_text(errors='replace')
