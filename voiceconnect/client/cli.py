"""`voiceconnect`: calls from the command line, on the Python voice client.

    voiceconnect call NAME     call NAME; exit 0 once answered, else print the outcome word and exit 1
    voiceconnect answer        wait for a call and answer it (`--forever`: one after another)
    voiceconnect echo          answer every call and play back what the caller says

`--server URL --user NAME`; the password comes from `VOICECONNECT_PASSWORD` or the first line of
`--password-file` (never an argument: it would show in `ps`). In a call: `--play WAV` sends a 16-bit PCM WAV,
`--record WAV` records `--seconds N` (default 5) of the peer; with neither, the call lasts `--seconds` or until
the peer hangs up. Exit status: 0 answered, 1 not answered (the outcome word is printed: declined, busy, missed,
offline, …), 2 usage error or bad file, 3 sign-in refused or server unreachable, 130 interrupted.
"""

import argparse
import asyncio
import os
import sys
from collections.abc import Coroutine, Sequence
from pathlib import Path
from typing import Any

from .media import AudioFormatError, read_wav
from .voice_client import Call, CallRefused, VoiceClient, VoiceClientError

DEFAULT_SERVER = 'http://127.0.0.1:8080'
DEFAULT_RECORD_S = 5.0
NOT_ANSWERED, USAGE, UNREACHABLE, INTERRUPTED = 1, 2, 3, 130


class UsageError(Exception):
    pass


def parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    common.add_argument('--server', default=os.environ.get('VOICECONNECT_SERVER', DEFAULT_SERVER), metavar='URL')
    common.add_argument('--user', default=os.environ.get('VOICECONNECT_USER'), metavar='NAME')
    common.add_argument('--password-file', type=Path, metavar='PATH', help='else VOICECONNECT_PASSWORD is used')
    common.add_argument('--play', type=Path, metavar='WAV', help='play this 16-bit PCM WAV to the peer')
    common.add_argument('--record', type=Path, metavar='WAV', help="record the peer's voice to this WAV")
    common.add_argument('--seconds', type=float, metavar='N', help=f'how long to record (default {DEFAULT_RECORD_S:g})')
    common.add_argument('--insecure', action='store_true', help="accept the server's self-signed certificate")
    parser = argparse.ArgumentParser(
        prog='voiceconnect', description='Take part in VoiceConnect calls from the command line.', allow_abbrev=False
    )
    commands = parser.add_subparsers(dest='command', required=True, metavar='COMMAND')
    call = commands.add_parser(
        'call', parents=[common], allow_abbrev=False, help='call someone', description='Call NAME.'
    )
    call.add_argument('name', metavar='NAME')
    answer = commands.add_parser(
        'answer', parents=[common], allow_abbrev=False, help='answer a call', description='Answer a call.'
    )
    answer.add_argument('--forever', action='store_true', help='answer one call after another')
    commands.add_parser(
        'echo', parents=[common], allow_abbrev=False, help='play back what callers say', description='An echo bot.'
    )
    return parser


def password(args: argparse.Namespace) -> str:
    if args.password_file is not None:
        try:
            lines = args.password_file.read_text().splitlines()
        except OSError as error:
            raise UsageError(f'--password-file: {error.strerror}: {args.password_file}') from None
        return lines[0] if lines else ''
    if 'VOICECONNECT_PASSWORD' in os.environ:
        return os.environ['VOICECONNECT_PASSWORD']
    raise UsageError('no password: set VOICECONNECT_PASSWORD or use --password-file')


async def talk(call: Call, args: argparse.Namespace) -> str:
    """The call's media as asked, then hang up; returns how it ended."""
    say(f'in call with {call.peer}')
    work: list[Coroutine[Any, Any, object]] = []
    if args.play is not None:
        work.append(call.play(args.play))
    if args.record is not None:
        work.append(call.record(args.record, seconds=args.seconds or DEFAULT_RECORD_S))
    if args.command == 'echo':
        call.echo()
    if work:
        await asyncio.gather(*work)
    elif args.seconds is not None:
        await asyncio.wait([call.ended], timeout=args.seconds)
    else:
        await call.ended
    reason = await call.hang_up()
    say(f'ended: {reason}')
    return reason


async def run(args: argparse.Namespace, secret: str) -> int:
    async with VoiceClient(args.server, args.user, secret, verify_tls=not args.insecure) as client:
        if args.command == 'call':
            say(f'calling {args.name}…')
            try:
                call = await client.call(args.name)
            except CallRefused as refused:
                say(refused.outcome)
                return NOT_ANSWERED
            say('answered')
            await talk(call, args)
            return 0
        say(f'{args.user} waiting for calls')
        while True:
            incoming = await client.next_incoming()
            say(f'incoming call from {incoming.caller}')
            try:
                call = await incoming.accept()
            except CallRefused as refused:
                say(refused.outcome)
                if args.command == 'answer' and not args.forever:
                    return NOT_ANSWERED
                continue
            say('answered')
            await talk(call, args)
            if args.command == 'answer' and not args.forever:
                return 0


def say(line: str) -> None:
    print(line, flush=True)


def main(argv: Sequence[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if not args.user:
            raise UsageError('no user: use --user NAME (or set VOICECONNECT_USER)')
        secret = password(args)
        if args.play is not None:
            read_wav(args.play)  # a bad file is said now, not after the call was answered
    except (UsageError, AudioFormatError) as problem:
        print(f'voiceconnect: {problem}', file=sys.stderr)
        return USAGE
    except OSError as error:
        print(f'voiceconnect: --play: {error.strerror}: {args.play}', file=sys.stderr)
        return USAGE
    try:
        return asyncio.run(run(args, secret))
    except VoiceClientError as error:
        print(f'voiceconnect: {error}', file=sys.stderr)
        return UNREACHABLE
    except KeyboardInterrupt:
        return INTERRUPTED


if __name__ == '__main__':
    sys.exit(main())
