"""Start-up that explains itself: `python main.py` with a bad setting, a busy port, a bad data dir or a bad
certificate stops with one line naming the variable, exit status 2, no traceback, and says nothing about being
ready; SIGTERM stops it gracefully."""

import json
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from voiceconnect.testing.servers import PROJECT_DIR, AppServer, self_signed_certificate

PREFIX = 'VoiceConnect cannot start: '


def start(tmp_path: Path, **settings: str) -> subprocess.CompletedProcess[str]:
    env = AppServer(PROJECT_DIR, tmp_path / 'data', tmp_path / 'app.log', overrides=settings).env()
    return subprocess.run(
        [sys.executable, 'main.py'], cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )


def the_one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The start-up failed as promised: status 2, one line on stderr, no traceback, nothing said on stdout."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert 'Traceback' not in result.stderr
    assert result.stdout == ''  # no "ready", no "VoiceConnect on …"
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith(PREFIX)
    return line.removeprefix(PREFIX)


@pytest.mark.parametrize(
    ('settings', 'expected'),
    [
        ({'PORT': 'abc'}, "VOICECONNECT_PORT: not a number: 'abc'"),
        ({'PORT': '70000'}, "VOICECONNECT_PORT: must be at most 65535, not '70000'"),
        ({'RING_TIMEOUT_S': '0'}, "VOICECONNECT_RING_TIMEOUT_S: must be more than 0, not '0'"),
        ({'SIGNAL_BURST': '1.5'}, "VOICECONNECT_SIGNAL_BURST: not a whole number: '1.5'"),
        ({'ICE_SERVERS': '[{"urls": '}, 'VOICECONNECT_ICE_SERVERS: not a JSON list of RTCIceServer objects'),
        ({'ICE_TRANSPORT_POLICY': 'relayed'}, "VOICECONNECT_ICE_TRANSPORT_POLICY: must be 'all' or 'relay'"),
        ({'ICE_TRANSPORT_POLICY': 'relay'}, 'VOICECONNECT_ICE_TRANSPORT_POLICY: relay needs a TURN server'),
        ({'TURN_URLS': '["turn:127.0.0.1:3478"]'}, 'VOICECONNECT_TURN_SECRET: set both TURN_URLS and TURN_SECRET'),
        ({'TURN_URLS': '["stun:h:1"]', 'TURN_SECRET': 's'}, 'VOICECONNECT_TURN_URLS: each entry must be a turn:'),
        ({'TURN_TTL_S': '10'}, "VOICECONNECT_TURN_TTL_S: must be at least 60, not '10'"),
        ({'LOG_FORMAT': 'xml'}, "VOICECONNECT_LOG_FORMAT: must be 'text' or 'json', not 'xml'"),
        ({'METRICS_ALLOW': '10.0.0.0/8,everyone'}, 'VOICECONNECT_METRICS_ALLOW: not an address or network'),
        ({'SSL_CERTFILE': '/etc/vc/cert.pem'}, 'VOICECONNECT_SSL_KEYFILE: set both SSL_CERTFILE and SSL_KEYFILE'),
        ({'REDIS_URL': 'http://127.0.0.1:6379'}, 'VOICECONNECT_REDIS_URL: REDIS_URL must start with redis://'),
        ({'HOST': 'no-such-host.invalid'}, "VOICECONNECT_HOST: unknown host 'no-such-host.invalid'"),
        ({'HOST': '192.0.2.1'}, "VOICECONNECT_HOST: '192.0.2.1' is not an address of this machine"),
    ],
    ids=lambda value: '-'.join(f'{k}={v}' for k, v in value.items()) if isinstance(value, dict) else '',
)
def test_a_bad_setting_stops_start_up_in_one_line_naming_it(
    tmp_path: Path, settings: dict[str, str], expected: str
) -> None:
    assert the_one_line(start(tmp_path, **settings)).startswith(expected)


def test_a_busy_port_is_said_before_anything_claims_to_be_ready(tmp_path: Path) -> None:
    with socket.socket() as other_program:
        other_program.bind(('127.0.0.1', 0))
        other_program.listen()
        port = other_program.getsockname()[1]
        line = the_one_line(start(tmp_path, PORT=str(port)))
    assert line == f'VOICECONNECT_PORT: 127.0.0.1:{port} is already in use by another program'


def test_a_data_dir_that_cannot_be_created_is_one_line(tmp_path: Path) -> None:
    (tmp_path / 'a-file').write_text('not a directory')
    line = the_one_line(start(tmp_path, DATA_DIR=str(tmp_path / 'a-file' / 'data')))
    assert line.startswith(f"VOICECONNECT_DATA_DIR: cannot create or write '{tmp_path / 'a-file' / 'data'}' (")


def test_a_data_dir_that_is_a_file_is_one_line(tmp_path: Path) -> None:
    (tmp_path / 'a-file').write_text('not a directory')
    line = the_one_line(start(tmp_path, DATA_DIR=str(tmp_path / 'a-file')))
    assert line.startswith('VOICECONNECT_DATA_DIR: cannot create or write')


def test_a_missing_certificate_is_one_line(tmp_path: Path) -> None:
    _, key = self_signed_certificate(tmp_path)
    line = the_one_line(start(tmp_path, SSL_CERTFILE=str(tmp_path / 'nope.pem'), SSL_KEYFILE=str(key)))
    assert line == f"VOICECONNECT_SSL_CERTFILE: no such file: '{tmp_path / 'nope.pem'}'"


def test_a_certificate_file_without_a_certificate_is_one_line(tmp_path: Path) -> None:
    _, key = self_signed_certificate(tmp_path)
    (tmp_path / 'garbage.pem').write_text('hello')
    line = the_one_line(start(tmp_path, SSL_CERTFILE=str(tmp_path / 'garbage.pem'), SSL_KEYFILE=str(key)))
    assert line.startswith('VOICECONNECT_SSL_CERTFILE: no PEM certificate in')


def test_a_key_that_does_not_match_the_certificate_is_one_line(tmp_path: Path) -> None:
    (tmp_path / 'one').mkdir()
    (tmp_path / 'two').mkdir()
    cert, _ = self_signed_certificate(tmp_path / 'one')
    _, other_key = self_signed_certificate(tmp_path / 'two')
    line = the_one_line(start(tmp_path, SSL_CERTFILE=str(cert), SSL_KEYFILE=str(other_key)))
    assert line == f"VOICECONNECT_SSL_KEYFILE: '{other_key}' is not the key of the certificate in '{cert}'"


def test_sigterm_stops_gracefully_and_json_logs_are_one_object_per_line(tmp_path: Path) -> None:
    server = AppServer(PROJECT_DIR, tmp_path / 'data', tmp_path / 'app.log', overrides={'LOG_FORMAT': 'json'})
    server.start()
    process = server.process
    assert process is not None
    server.stop()  # SIGTERM, as a service manager sends it
    # uvicorn stops serving, the shutdown handlers run, then it re-raises SIGTERM (as systemd expects)
    assert process.returncode in (0, -15)
    lines = [json.loads(line) for line in server.log_text().splitlines()]
    assert [line['message'] for line in lines] == [
        f'🚀 VoiceConnect on http://127.0.0.1:{server.port}',
        '🛑 VoiceConnect stopped (calls ended)',
    ]
    assert {line['instance'] for line in lines} == {f'127.0.0.1:{server.port}'}
