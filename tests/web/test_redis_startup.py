"""With REDIS_URL set, the app needs its Redis before it serves anyone: an unreachable one stops start-up with one
line and exit status 2, before anything is served."""

import subprocess
import sys

from voiceconnect.testing.servers import PROJECT_DIR, AppServer, free_port


def test_an_unreachable_redis_stops_start_up_in_one_line(tmp_path) -> None:
    server = AppServer(
        PROJECT_DIR, tmp_path / 'data', tmp_path / 'log', {'REDIS_URL': f'redis://127.0.0.1:{free_port()}/0'}
    )
    done = subprocess.run(
        [sys.executable, 'main.py'], cwd=PROJECT_DIR, env=server.env(), capture_output=True, timeout=60
    )
    assert done.returncode == 2
    lines = done.stderr.decode().strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith('VoiceConnect cannot start: VOICECONNECT_REDIS_URL:')
    assert b'ready' not in done.stdout and b'Traceback' not in done.stderr
