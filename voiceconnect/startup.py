"""Start-up that explains itself: every reason the app cannot run, found before it says it is ready.

`checked_settings()` reads the settings and runs every check in order; the first problem raises `CannotStart`
with one line naming the variable (`VOICECONNECT_PORT: not a number: 'abc'`). main.py prints that line and exits
with status 2, no traceback. The checks are a plain list: a new reason to refuse to start is one more function.
"""

import errno
import os
import re
import socket
import ssl
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from pydantic_settings import SettingsError

from .settings import ENV_PREFIX, Settings, redis_problem


class CannotStart(Exception):
    """One line for the operator: which variable, and what is wrong with it."""


Check = Callable[[Settings], str | None]


def checked_settings(listening: bool = True) -> Settings:
    """The settings from the environment and `.env`, after every check passed; else CannotStart. `listening`:
    whether this process is about to serve on HOST:PORT (else the port is not tried)."""
    settings = read_settings()
    for check in CHECKS:
        if check in (port_problem, instance_problem) and not listening:
            continue
        if (problem := check(settings)) is not None:
            raise CannotStart(problem)
    return settings


def read_settings() -> Settings:
    try:
        return Settings()
    except ValidationError as error:
        raise CannotStart(_first_problem(error)) from None
    except SettingsError as error:  # a value pydantic-settings could not even decode (JSON of a list field)
        found = re.search(r'field "(\w+)"', str(error))
        name = env_name(found.group(1)) if found else 'settings'
        raise CannotStart(f'{name}: not valid JSON') from None


def env_name(field: str) -> str:
    return ENV_PREFIX + field.upper()


def _first_problem(error: ValidationError) -> str:
    first = error.errors(include_url=False)[0]
    explained = _explain(first['type'], first['msg'], first.get('input'), first.get('ctx') or {})
    if not first['loc']:  # a rule over several settings: its message names them
        return explained
    return f'{env_name(str(first["loc"][0]))}: {explained}'


def _explain(kind: str, message: str, value: Any, ctx: dict[str, Any]) -> str:
    limits = {
        'greater_than': 'more than',
        'greater_than_equal': 'at least',
        'less_than': 'less than',
        'less_than_equal': 'at most',
    }
    if kind in ('int_parsing', 'int_type', 'float_parsing', 'float_type', 'int_from_float'):
        return f'not a {"whole " if kind.startswith("int") and _is_number(value) else ""}number: {value!r}'
    if kind in limits:
        bound = next(iter(ctx.values()), '?')
        bound = int(bound) if isinstance(bound, float) and bound.is_integer() else bound
        return f'must be {limits[kind]} {bound}, not {value!r}'
    if kind == 'literal_error':
        return f'must be {ctx.get("expected", "one of the allowed values")}, not {value!r}'
    if kind == 'value_error':
        return message.removeprefix('Value error, ')
    return f'{message[:1].lower()}{message[1:]}: {value!r}'


def _is_number(value: Any) -> bool:
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


# the checks, in order: each says what is wrong in one line, or None


def data_dir_problem(settings: Settings) -> str | None:
    """The data dir can be created and written (the database, NiceGUI's storage and the storage secret live
    there)."""
    path = settings.data_dir
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path, prefix='.write-check-'):
            pass
    except OSError as error:
        return f'{env_name("data_dir")}: cannot create or write {str(path)!r} ({_reason(error)})'
    return None


def certificate_problem(settings: Settings) -> str | None:
    """The certificate and key files exist, hold what they should, and belong together."""
    if settings.ssl_certfile is None or settings.ssl_keyfile is None:
        return None
    for field, path in (('ssl_certfile', settings.ssl_certfile), ('ssl_keyfile', settings.ssl_keyfile)):
        if not path.is_file() or not os.access(path, os.R_OK):
            why = 'not readable' if path.is_file() else 'no such file'
            return f'{env_name(field)}: {why}: {str(path)!r}'
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_verify_locations(cafile=settings.ssl_certfile)
    except ssl.SSLError:
        return f'{env_name("ssl_certfile")}: no PEM certificate in {str(settings.ssl_certfile)!r}'
    try:
        context.load_cert_chain(settings.ssl_certfile, settings.ssl_keyfile)
    except ssl.SSLError as error:
        if 'KEY_VALUES_MISMATCH' in str(error):
            return (
                f'{env_name("ssl_keyfile")}: {str(settings.ssl_keyfile)!r} is not the key of the certificate '
                f'in {str(settings.ssl_certfile)!r}'
            )
        return f'{env_name("ssl_keyfile")}: no usable private key in {str(settings.ssl_keyfile)!r}'
    return None


def port_problem(settings: Settings) -> str | None:
    """HOST:PORT can be bound, tried the way uvicorn binds it, so a busy port is said before anything else is."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            settings.host, settings.port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as error:
        return f'{env_name("host")}: unknown host {settings.host!r} ({error.strerror})'
    with socket.socket(family, kind, proto) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn: a port in TIME_WAIT is free
        try:
            probe.bind(address)
        except OSError as error:
            where = f'{settings.host}:{settings.port}'
            if error.errno == errno.EADDRINUSE:
                return f'{env_name("port")}: {where} is already in use by another program'
            if error.errno == errno.EADDRNOTAVAIL:
                return f'{env_name("host")}: {settings.host!r} is not an address of this machine'
            if error.errno == errno.EACCES:
                return f'{env_name("port")}: not allowed to listen on {where} (ports below 1024 need privileges)'
            return f'{env_name("port")}: cannot listen on {where} ({_reason(error)})'
    return None


def redis_url_problem(settings: Settings) -> str | None:
    if settings.redis_url and (problem := redis_problem(settings.redis_url)) is not None:
        return f'{env_name("redis_url")}: {problem}'
    return None


def instance_problem(settings: Settings) -> str | None:
    """With Redis, this process's name is not that of another live process (voiceconnect/cluster/instance_claim.py);
    a process restarted after its predecessor died waits for the dead one's heartbeat to run out."""
    if not settings.redis_url:
        return None
    import redis  # only when REDIS_URL is set

    from .cluster import instance_claim

    name = settings.instance_name
    try:
        if instance_claim.take(settings.redis_url, name, settings.redis_timeout_s):
            return None
    except redis.RedisError as error:
        return f'{env_name("redis_url")}: no answer from Redis at {settings.redis_url} ({error})'
    default = '' if settings.instance else ' (the default, HOST:PORT)'
    return (
        f'{env_name("instance")}: {name!r}{default} is the name of another process that is running with this Redis: '
        f'give each process its own {env_name("instance")}'
    )


def _reason(error: OSError) -> str:
    return error.strerror or type(error).__name__


CHECKS: tuple[Check, ...] = (
    data_dir_problem,
    certificate_problem,
    port_problem,
    redis_url_problem,
    instance_problem,
)


PRIVATE_UMASK = 0o077


def keep_data_private(data_dir: Path) -> None:
    """Every file the process writes from now on is its owner's alone (the database holds password hashes,
    NiceGUI's user storage the session tokens of every browser, and later files include those NiceGUI writes);
    the data dir and what an earlier version left in it readable to others are made private too. Best effort for
    files this user does not own: the owner's choice."""
    os.umask(PRIVATE_UMASK)
    if not data_dir.is_dir():
        return
    for path in (data_dir, *data_dir.rglob('*')):
        mode = 0o700 if path.is_dir() else 0o600
        try:
            if not path.is_symlink() and path.stat().st_mode & 0o077:
                path.chmod(mode)
        except OSError:
            pass


def exit_line(error: CannotStart | Exception) -> str:
    return f'VoiceConnect cannot start: {error}'
