"""Helpers for tests of the Python voice client against the app: accounts made with the admin command."""

import secrets
import subprocess
import sys

from voiceconnect.testing.harness import PROJECT_DIR, AppServer


def add_user(server: AppServer, name: str | None = None, password: str | None = None) -> tuple[str, str]:
    """An account made by `python -m voiceconnect.admin add-user` in the running app's data dir."""
    name = name or f'bot_{secrets.token_hex(3)}'
    password = password or f'pw-{secrets.token_hex(6)}'
    env = {'VOICECONNECT_DATA_DIR': str(server.data_dir), 'PATH': '/usr/bin:/bin'}
    subprocess.run(
        [sys.executable, '-m', 'voiceconnect.admin', 'add-user', name],
        input=password + '\n',
        text=True,
        check=True,
        capture_output=True,
        cwd=PROJECT_DIR,
        env=env,
        timeout=60,
    )
    return name, password
