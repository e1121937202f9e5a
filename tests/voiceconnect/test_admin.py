"""`python -m voiceconnect.admin`: the operator's accounts, on the database in DATA_DIR."""

import subprocess
import sys
from pathlib import Path

import pytest

from voiceconnect.people.accounts import Accounts
from voiceconnect.people.db import Store
from voiceconnect.testing.servers import PROJECT_DIR


def admin(data_dir: Path, *args: str, password: str = '') -> subprocess.CompletedProcess[str]:
    env = {'VOICECONNECT_DATA_DIR': str(data_dir), 'PATH': '/usr/bin:/bin'}
    return subprocess.run(
        [sys.executable, '-m', 'voiceconnect.admin', *args],
        input=password + '\n',
        capture_output=True,
        text=True,
        cwd=PROJECT_DIR,
        env=env,
        timeout=60,
    )


async def signs_in(data_dir: Path, name: str, password: str) -> bool:
    store = Store(f'sqlite+aiosqlite:///{data_dir / "voiceconnect.db"}')
    try:
        await Accounts(store).sign_in(name, password)
        return True
    except ValueError:
        return False
    finally:
        await store.close()


async def test_add_list_set_password_and_remove(tmp_path: Path) -> None:
    added = admin(tmp_path, 'add-user', 'echo-bot', password='bot password 1')
    assert (added.returncode, added.stdout.strip()) == (0, 'Added echo-bot.')
    admin(tmp_path, 'add-user', 'alice', password='alice password')
    assert admin(tmp_path, 'list-users').stdout.split() == ['alice', 'echo-bot']
    assert await signs_in(tmp_path, 'echo-bot', 'bot password 1')

    changed = admin(tmp_path, 'set-password', 'echo-bot', password='bot password 2')
    assert changed.returncode == 0, changed.stderr
    assert not await signs_in(tmp_path, 'echo-bot', 'bot password 1')
    assert await signs_in(tmp_path, 'echo-bot', 'bot password 2')

    assert admin(tmp_path, 'remove-user', 'ECHO-BOT').returncode == 0
    assert admin(tmp_path, 'list-users').stdout.split() == ['alice']
    assert not await signs_in(tmp_path, 'echo-bot', 'bot password 2')


async def test_a_changed_password_signs_out_the_users_sessions(tmp_path: Path) -> None:
    store = Store(f'sqlite+aiosqlite:///{tmp_path / "voiceconnect.db"}')
    await store.create_schema()
    accounts = Accounts(store)
    session = await accounts.create('alice', 'old password')
    await accounts.set_password('alice', 'new password')
    assert await accounts.resume(session.token) is None
    await store.close()


@pytest.mark.parametrize(
    ('args', 'password', 'says'),
    [
        (('add-user', 'al'), 'long enough', 'Usernames are 3–32 characters'),
        (('add-user', 'alice'), 'short', 'at least 8 characters'),
        (('set-password', 'nobody'), 'long enough', 'There is no user nobody.'),
        (('remove-user', 'nobody'), '', 'There is no user nobody.'),
    ],
)
def test_a_refusal_is_one_line_and_status_1(tmp_path: Path, args: tuple[str, ...], password: str, says: str) -> None:
    result = admin(tmp_path, *args, password=password)
    assert result.returncode == 1
    assert says in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def test_a_taken_name_is_refused(tmp_path: Path) -> None:
    admin(tmp_path, 'add-user', 'alice', password='alice password')
    result = admin(tmp_path, 'add-user', 'Alice', password='other password')
    assert (result.returncode, result.stderr.strip()) == (1, 'voiceconnect.admin: That username is taken.')


def test_usage_errors_exit_2_and_every_command_has_help(tmp_path: Path) -> None:
    assert admin(tmp_path).returncode == 2
    assert admin(tmp_path, 'add-user').returncode == 2
    shown = admin(tmp_path, '--help').stdout
    for command in ('add-user', 'set-password', 'remove-user', 'list-users'):
        assert command in shown
