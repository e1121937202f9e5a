"""Accounts from the command line, for the operator (e.g. accounts for bots when `SIGNUP=closed`):

    python -m voiceconnect.admin add-user NAME        # the password is read from stdin
    python -m voiceconnect.admin set-password NAME    # likewise; the user's sessions end, on the running app too
    python -m voiceconnect.admin remove-user NAME     # its sessions end too; a new account of the name starts afresh
    python -m voiceconnect.admin list-users

It works on the database in `DATA_DIR` (the same settings as the app). Exit status 0 on success, 1 with one
line on stderr when refused (a taken or unknown name, a too short password), 2 on a usage error.
"""

import argparse
import asyncio
import getpass
import sys
from collections.abc import Sequence

from pydantic import ValidationError

from .people.accounts import AccountError, Accounts
from .people.db import Store
from .settings import Settings
from .startup import keep_data_private


def read_password(prompt: str = 'Password: ') -> str:
    """From the terminal without echo, or the first line of a pipe (`echo secret | python -m …`)."""
    if sys.stdin.isatty():
        return getpass.getpass(prompt)
    return sys.stdin.readline().rstrip('\r\n')


async def run(command: str, name: str | None, settings: Settings) -> str:
    """Do `command`; returns what to print. Raises AccountError when refused."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    store = Store(settings.database_url)
    try:
        await store.create_schema()
        accounts = Accounts(store)
        if command == 'list-users':
            return '\n'.join(await accounts.names())
        assert name is not None
        if command == 'add-user':
            created = await accounts.create(name, read_password())
            await accounts.sign_out(created.token)  # only the account is wanted, not a session
            return f'Added {created.name}.'
        if command == 'set-password':
            await accounts.set_password(name, read_password('New password: '))
            return f'Changed the password of {name.strip()}; their sessions are signed out.'
        await accounts.remove(name)
        return f'Removed {name.strip()}.'
    finally:
        await store.close()


def parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog='python -m voiceconnect.admin',
        description='Manage VoiceConnect accounts in DATA_DIR (VOICECONNECT_DATA_DIR or .env). '
        'Passwords are read from stdin, never from the command line.',
    )
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    for command, text in (
        ('add-user', 'create an account (password on stdin)'),
        ('set-password', "change an account's password (on stdin); its sessions end"),
        ('remove-user', 'delete an account and its sessions'),
    ):
        commands.add_parser(command, help=text, description=text).add_argument('name', metavar='NAME')
    commands.add_parser('list-users', help='print every account name, one per line')
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        settings = Settings()
    except ValidationError as error:
        problem = error.errors()[0]
        print(f'voiceconnect.admin: VOICECONNECT_{str(problem["loc"][0]).upper()}: {problem["msg"]}', file=sys.stderr)
        return 2
    keep_data_private(settings.data_dir)  # the database it may create holds password hashes
    try:
        output = asyncio.run(run(args.command, getattr(args, 'name', None), settings))
    except AccountError as refused:
        print(f'voiceconnect.admin: {refused}', file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0


if __name__ == '__main__':
    sys.exit(main())
