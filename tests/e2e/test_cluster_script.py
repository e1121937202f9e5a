"""`scripts/cluster.sh` reads the settings `python main.py` reads: VOICECONNECT_HOST and VOICECONNECT_PORT from the
environment or the checkout's `.env` put the front (HAProxy) there, HOST and PORT still stand in for them, and a
bad value stops the script with main.py's one line before anything starts."""

import subprocess
from collections.abc import Mapping
from pathlib import Path

import pytest

from voiceconnect.bridge.janus import JanusBridge, JanusError
from voiceconnect.testing.servers import PROJECT_DIR, Cluster, free_port, http_status


class OperatorsCluster(Cluster):
    """`scripts/cluster.sh 1` with only what an operator gave it: their checkout's `.env` and `environ`. The harness
    picks neither the front's host nor its port (the run and data dirs stay the test's)."""

    def __init__(self, checkout: Path, run_dir: Path, environ: Mapping[str, str] | None = None) -> None:
        super().__init__(checkout, run_dir, n=1)
        self.environ = dict(environ or {})

    def env(self) -> dict[str, str]:
        env = super().env()
        del env['VOICECONNECT_HOST'], env['VOICECONNECT_PORT']
        return {**env, **self.environ}


def checkout_with_dotenv(directory: Path, dotenv: str) -> Path:
    """The project as an operator's checkout with this `.env`: links to this one's files, but its own `.env`."""
    directory.mkdir()
    for entry in PROJECT_DIR.iterdir():
        if entry.name not in {'.env', '.git', 'data'}:
            (directory / entry.name).symlink_to(entry)
    (directory / '.env').write_text(dotenv)
    return directory


def test_the_front_listens_where_the_dotenv_file_says(tmp_path: Path) -> None:
    port = free_port()
    checkout = checkout_with_dotenv(tmp_path / 'checkout', f'VOICECONNECT_HOST=127.0.0.3\nVOICECONNECT_PORT={port}\n')
    with OperatorsCluster(checkout, tmp_path / 'run') as cluster:
        assert cluster.url == f'http://127.0.0.3:{port}'  # what it says (before: http://127.0.0.1:8080)
        assert http_status(f'http://127.0.0.3:{port}/healthz') == 200  # and where it is


def test_port_in_the_environment_still_stands_in_for_voiceconnect_port_and_wins_over_the_dotenv_file(
    tmp_path: Path,
) -> None:
    port = free_port()
    checkout = checkout_with_dotenv(tmp_path / 'checkout', f'VOICECONNECT_PORT={free_port()}\n')
    with OperatorsCluster(checkout, tmp_path / 'run', {'PORT': str(port)}) as cluster:
        assert cluster.url == f'http://127.0.0.1:{port}'
        assert http_status(f'http://127.0.0.1:{port}/healthz') == 200


def test_a_bad_value_in_the_dotenv_file_stops_the_script_with_the_apps_one_line(tmp_path: Path) -> None:
    checkout = checkout_with_dotenv(tmp_path / 'checkout', 'VOICECONNECT_PORT=eighty\n')
    script = OperatorsCluster(checkout, tmp_path / 'run')
    done = subprocess.run(script.command(), cwd=checkout, env=script.env(), capture_output=True, text=True, timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert done.stderr.strip().splitlines() == ["VoiceConnect cannot start: VOICECONNECT_PORT: not a number: 'eighty'"]
    assert not (tmp_path / 'run' / 'redis.log').exists(), 'nothing started'


def process_environment(pid: int) -> dict[str, str]:
    entries = Path(f'/proc/{pid}/environ').read_bytes().split(b'\0')
    return dict(entry.decode().split('=', 1) for entry in entries if b'=' in entry)


async def test_janus_flag_starts_janus_with_its_own_secrets_for_the_apps_and_stops_it(tmp_path: Path) -> None:
    with Cluster(PROJECT_DIR, tmp_path / 'run', n=1, janus=True) as cluster:
        janus_pid = cluster.pid('janus')
        app = process_environment(cluster.pid('app1'))
        url, secret, key = (app[f'VOICECONNECT_JANUS_{name}'] for name in ('URL', 'API_SECRET', 'ADMIN_KEY'))
        assert url.startswith('ws://127.0.0.1:')
        assert 'Janus ' + url in cluster.output()  # the script says where it is
        async with JanusBridge(url, api_secret=secret, admin_key=key) as bridge:  # what the apps would do
            await bridge.destroy_room(await bridge.create_room(tokens=['t-a']))
        with pytest.raises(JanusError, match='Unauthorized'):  # Debian's shipped secrets are not the ones
            await JanusBridge(url, api_secret='janusoverlord').open()
        written = ''.join(p.read_text() for p in (tmp_path / 'run' / 'janus' / 'conf').iterdir())
        assert 'janusoverlord' not in written and 'adminpwd' not in written and 'room-' not in written
    assert not Path(f'/proc/{janus_pid}').exists(), 'janus outlived the script'
