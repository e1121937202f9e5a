"""The servers a test starts, each a `Server` on free loopback ports: the app (`AppServer`, `python main.py`), Redis
(`RedisServer`), coturn (`CoturnServer`) and `scripts/cluster.sh` (`Cluster`).

A `Server` is a subprocess in a process group of its own, its output appended to a log file; `start()` returns once
it answers, or raises with the log's tail; `stop()` asks it to stop and kills its whole group if it does not; and
whatever a test leaves running (it failed, or the run was interrupted) is stopped when the test run ends.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import re
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path
from typing import Any, NoReturn, Self

from .waiting import wait_until

PROJECT_DIR = Path(__file__).resolve().parents[2]
ENV_PREFIX = 'VOICECONNECT_'


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def http_status(url: str) -> int | None:
    """The status `url` answers within 2 s, or None if nothing answers."""
    # No proxies: a developer's http_proxy must not see (or break) requests to loopback. Test servers on
    # loopback may use a self-signed certificate, so it is not verified here.
    insecure = ssl.create_default_context()
    insecure.check_hostname = False
    insecure.verify_mode = ssl.CERT_NONE
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=insecure))
    try:
        with opener.open(url, timeout=2) as response:
            return int(response.status)
    except urllib.error.HTTPError as error:
        return int(error.code)
    except (OSError, ValueError):
        return None


def clean_environment() -> dict[str, str]:
    """This process's environment without what must not reach a server a test starts: the developer's own
    VOICECONNECT_* settings, and pytest's PYTEST_CURRENT_TEST / NICEGUI_* (with them, ui.run() thinks it is a
    NiceGUI screen test and dies)."""
    return {k: v for k, v in os.environ.items() if not k.startswith((ENV_PREFIX, 'PYTEST_', 'NICEGUI_'))}


def app_environment(port: int, data_dir: Path, overrides: Mapping[str, str], **extra: str) -> dict[str, str]:
    """The environment of the app a test starts (`python main.py`, or the cluster script's processes): on
    127.0.0.1:`port` with its own data dir and no ICE servers, then `extra`, then the test's `overrides`."""
    env = clean_environment()
    env.update(
        VOICECONNECT_HOST='127.0.0.1',
        VOICECONNECT_PORT=str(port),
        VOICECONNECT_DATA_DIR=str(data_dir),
        VOICECONNECT_ICE_SERVERS='[]',
        **extra,
    )
    env.update(overrides)
    return env


def setting_names(overrides: Mapping[str, Any] | None) -> dict[str, str]:
    """Settings as environment variables: keys with or without the VOICECONNECT_ prefix, values as text."""
    return {
        (key.upper() if key.upper().startswith(ENV_PREFIX) else ENV_PREFIX + key.upper()): str(value)
        for key, value in (overrides or {}).items()
    }


class Server:
    """A program a test starts and must not leave behind (the app, Redis, coturn, the cluster, Janus).

    A subclass says what to run (`command`, and `env` unless this process's environment will do) and when it
    serves (`answers`); `what` names it in messages, and the class attributes below say how it stops.
    """

    what = 'the server'
    stop_signal = signal.SIGTERM  # a graceful stop, as in production
    signal_group = True  # send it to the whole process group (a reloader's children too), or to the process only
    stop_timeout_s = 10.0  # then SIGKILL to the whole group
    start_timeout_s = 30.0
    poll_interval_s = 0.1

    def __init__(self, log_path: Path, cwd: Path | None = None) -> None:
        self.log_path = Path(log_path)
        self.cwd = cwd
        self.process: subprocess.Popen[bytes] | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def env(self) -> dict[str, str] | None:
        return None

    def answers(self) -> bool:
        """Whether it serves now (polled by `start`)."""
        raise NotImplementedError

    def start(self, timeout: float | None = None) -> Self:
        timeout = self.start_timeout_s if timeout is None else timeout
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open('ab') as log:  # append: a restart keeps the earlier run's lines
            self.process = subprocess.Popen(
                self.command(),
                cwd=self.cwd,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a process group of its own: stop() reaches its children too
            )
        atexit.register(self.stop)  # no orphan if the test run dies before the test's teardown
        try:
            wait_until(self._serving, f'{self.what} answering', timeout, self.poll_interval_s)
        except AssertionError:
            self.stop()
            self._fail(f'{self.what} did not answer within {timeout:g} s')
        return self

    def _serving(self) -> bool:
        if self.process is not None and self.process.poll() is not None:
            self._fail(f'{self.what} exited with code {self.process.returncode} before it answered')
        return self.answers()

    def _fail(self, message: str) -> NoReturn:
        raise RuntimeError(f'{message}\n--- log tail ({self.log_path}) ---\n{self.log_tail()}')

    def pause(self) -> None:
        """SIGSTOP: a hung server. Its connections stay open and accept what is sent, and nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`: it answers again, what was sent meanwhile included."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self, timeout: float | None = None) -> None:
        """`stop_signal`, then SIGKILL to the whole group if it is still running after `timeout`."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGCONT)  # a paused one cannot act on `stop_signal`
        with contextlib.suppress(ProcessLookupError):
            if self.signal_group:
                os.killpg(process.pid, self.stop_signal)
            else:
                process.send_signal(self.stop_signal)
        try:
            process.wait(self.stop_timeout_s if timeout is None else timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def crash(self) -> None:
        """SIGKILL to the whole group, no shutdown handlers: what a power cut or an OOM kill leaves behind."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def restart(self, timeout: float | None = None) -> Self:
        """Stop and start again, on the same ports and files (a restart as its users see it)."""
        self.stop()
        return self.start(timeout)

    def log_text(self) -> str:
        try:
            return self.log_path.read_bytes().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''

    def log_mark(self) -> int:
        """Current end of the log: pass it as `since` to wait only for lines written after this point."""
        return len(self.log_text())

    def log_tail(self, lines: int = 60) -> str:
        return '\n'.join(self.log_text().splitlines()[-lines:])

    def wait_for_log(self, substring: str, timeout: float = 10, since: int = 0) -> str:
        """Poll the log until `substring` appears (after offset `since`); return the first matching line."""

        def line() -> str | None:
            text = self.log_text()[since:]
            return next((line for line in text.splitlines() if substring in line), None)

        return wait_until(line, lambda: f'{substring!r} not in the log of {self.what}\n{self.log_tail()}', timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class AppServer(Server):
    """`python main.py` in `project_dir`, on its own port and data dir, logging to `log_path`."""

    what = 'the app'
    poll_interval_s = 0.2

    def __init__(
        self,
        project_dir: Path,
        data_dir: Path,
        log_path: Path,
        overrides: Mapping[str, Any] | None = None,
        port: int | None = None,
        script: str = 'main.py',
    ) -> None:
        super().__init__(log_path, cwd=Path(project_dir))
        self.project_dir = Path(project_dir)
        self.script = script  # relative to project_dir; benchmarks start other apps the same way
        self.data_dir = Path(data_dir)
        self.port = port or free_port()
        self.overrides = setting_names(overrides)

    @property
    def url(self) -> str:
        scheme = 'https' if self.overrides.get(f'{ENV_PREFIX}SSL_CERTFILE') else 'http'
        return f'{scheme}://127.0.0.1:{self.port}'

    def command(self) -> list[str]:
        return [sys.executable, self.script]

    def env(self) -> dict[str, str]:
        return app_environment(self.port, self.data_dir, self.overrides, PYTHONUNBUFFERED='1')

    def start(self, timeout: float | None = None) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return super().start(timeout)

    def answers(self) -> bool:
        return self.health() == 200

    def health(self) -> int | None:
        """The status `/healthz` answers within 2 s, or None."""
        return http_status(self.url + '/healthz')

    def admin(self, *args: str, password: str | None = None) -> str:
        """`python -m voiceconnect.admin …` on this app's data dir (it may be running), `password` on its stdin as
        the operator types it; what it printed."""
        done = subprocess.run(
            [sys.executable, '-m', 'voiceconnect.admin', *args],
            input=(password or '') + '\n',
            text=True,
            check=True,
            capture_output=True,
            cwd=self.project_dir,
            env={**self.env(), 'PYTHONPATH': str(PROJECT_DIR)},
            timeout=60,
        )
        return done.stdout

    def add_user(self, name: str | None = None, password: str | None = None) -> tuple[str, str]:
        """An account made with `python -m voiceconnect.admin add-user` in this app's data dir (e.g. for a program
        using the Python voice client); returns (name, password), made up unless given."""
        name = name or f'bot_{secrets.token_hex(3)}'
        password = password or f'pw-{secrets.token_hex(6)}'
        self.admin('add-user', name, password=password)
        return name, password


class RedisServer(Server):
    """Debian's `redis-server` on a free loopback port, with nothing saved to disk: a real Redis for tests of the
    several-processes setup (`REDIS_URL`). `flush()` empties it between tests that share it. A `persistent` one
    keeps its data in an append-only file, so a stop and a start are an outage, not a loss."""

    what = 'redis-server'
    start_timeout_s = 10.0
    poll_interval_s = 0.05

    def __init__(self, directory: Path, port: int | None = None, persistent: bool = False) -> None:
        super().__init__(Path(directory) / 'redis.log', cwd=Path(directory))
        self.directory = Path(directory)
        self.port = port or free_port()
        self.persistent = persistent

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def command(self) -> list[str]:
        command = ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '']
        return command + (
            ['--appendonly', 'yes', '--appendfsync', 'always'] if self.persistent else ['--appendonly', 'no']
        )

    def answers(self) -> bool:
        try:
            with socket.create_connection(('127.0.0.1', self.port), timeout=0.5) as sock:
                sock.sendall(b'PING\r\n')
                return sock.recv(16).startswith(b'+PONG')
        except OSError:
            return False

    def flush(self) -> None:
        with socket.create_connection(('127.0.0.1', self.port), timeout=2) as sock:
            sock.sendall(b'FLUSHALL\r\n')
            sock.recv(16)

    def connected_clients(self) -> int:
        """How many client connections Redis holds now (`INFO clients`), this question's own included."""
        with socket.create_connection(('127.0.0.1', self.port), timeout=2) as sock:
            sock.sendall(b'INFO clients\r\n')
            reply = b''
            while b'\r\n' not in reply or len(reply) < reply.index(b'\r\n') + int(reply[1 : reply.index(b'\r\n')]):
                if not (chunk := sock.recv(4096)):
                    break
                reply += chunk  # a bulk string: `$<length>` and that many bytes
        return int(reply.split(b'connected_clients:')[1].split()[0])


class CoturnServer(Server):
    """Debian's coturn (`turnserver`) on a free loopback port with coturn's REST API scheme (`use-auth-secret`):
    a real TURN relay for tests of TURN_URLS / TURN_SECRET and ICE_TRANSPORT_POLICY=relay. Loopback peers are
    allowed (everything is on loopback in the test's private network namespace)."""

    what = 'turnserver'
    start_timeout_s = 10.0
    poll_interval_s = 0.05

    def __init__(self, directory: Path, secret: str | None = None, port: int | None = None) -> None:
        super().__init__(Path(directory) / 'turnserver.log', cwd=Path(directory))
        self.directory = Path(directory)
        self.secret = secret or secrets.token_urlsafe(24)
        self.port = port or free_port()
        self.realm = 'voiceconnect.test'

    @property
    def url(self) -> str:
        return f'turn:127.0.0.1:{self.port}?transport=udp'

    def command(self) -> list[str]:
        return [
            'turnserver',
            '-n',
            '--no-cli',
            '--no-tls',
            '--no-dtls',
            '--no-software-attribute',
            '--listening-ip',
            '127.0.0.1',
            '--relay-ip',
            '127.0.0.1',
            '--listening-port',
            str(self.port),
            '--allow-loopback-peers',
            '--use-auth-secret',
            '--static-auth-secret',
            self.secret,
            '--realm',
            self.realm,
            '--fingerprint',
            '--log-file',
            'stdout',  # into the log file, with anything it says before its logging starts
            '--simple-log',
            '--db',
            str(self.directory / 'turndb'),
            '--pidfile',
            str(self.directory / 'turnserver.pid'),
        ]

    def answers(self) -> bool:
        """A STUN binding request answered (coturn answers binding requests without credentials)."""
        request = (
            (0x0001).to_bytes(2, 'big') + (0).to_bytes(2, 'big') + (0x2112A442).to_bytes(4, 'big') + os.urandom(12)
        )
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
            sock.settimeout(0.3)
            try:
                sock.sendto(request, ('127.0.0.1', self.port))
                return sock.recv(2048)[:2] == (0x0101).to_bytes(2, 'big')
            except OSError:
                return False


class Cluster(Server):
    """`scripts/cluster.sh N` as an operator runs it: Redis, N app processes (app1…appN) and HAProxy in front (and
    Janus, with `janus`), on free loopback ports, with its pids and logs in `run_dir`. `log_text()` and
    `wait_for_log` read the apps' logs; the script's own output is in `run_dir/cluster.out`."""

    what = 'scripts/cluster.sh'
    stop_signal = signal.SIGINT  # Ctrl-C, as an operator stops it: the script stops the apps, then Redis
    signal_group = False
    stop_timeout_s = 20.0
    start_timeout_s = 90.0
    poll_interval_s = 0.2
    READY = re.compile(r'processes on (\S+) \(HAProxy\).*\n.*Ctrl-C stops them all')

    def __init__(
        self,
        project_dir: Path,
        run_dir: Path,
        n: int = 2,
        overrides: Mapping[str, Any] | None = None,
        janus: bool = False,
    ) -> None:
        super().__init__(Path(run_dir) / 'cluster.out', cwd=Path(project_dir))
        self.project_dir = Path(project_dir)
        self.run_dir = Path(run_dir)
        self.n = n
        self.janus = janus
        self.port = free_port()
        self.overrides = setting_names(overrides)

    @property
    def url(self) -> str:
        """Where the script says HAProxy serves."""
        ready = self.READY.search(self.output())
        assert ready, f'{self.what} has not said where it serves'
        return ready.group(1)

    @property
    def data_dir(self) -> Path:
        """Shared by the processes: the database and NiceGUI's files."""
        return self.run_dir / 'data'

    def command(self) -> list[str]:
        return ['bash', 'scripts/cluster.sh', str(self.n), *(['--janus'] if self.janus else [])]

    def env(self) -> dict[str, str]:
        """The app's environment with HAProxy on `port`, and none of the script's own names for VOICECONNECT_PORT,
        _HOST and _REDIS_URL from this process's environment."""
        env = app_environment(self.port, self.data_dir, self.overrides, CLUSTER_DIR=str(self.run_dir))
        for alias in ('PORT', 'HOST', 'REDIS_URL'):
            env.pop(alias, None)
        return env

    def answers(self) -> bool:
        return self.READY.search(self.output()) is not None

    def output(self) -> str:
        """What the script itself printed."""
        return super().log_text()

    def log_tail(self, lines: int = 60) -> str:
        return '\n'.join(self.output().splitlines()[-lines:])

    def log_text(self, instance: str | None = None) -> str:
        """The log of app process `instance` (`app1` …), or of all of them."""
        names = [instance] if instance else [f'app{i}' for i in range(1, self.n + 1)]
        return ''.join(self._read(f'{name}.log') for name in names)

    def pid(self, instance: str) -> int:
        """The pid of app process `instance` now (the script starts a killed one again), or of `janus`."""
        return int(self._read(f'{instance}.pid'))

    def wait_serving(self, instance: str, timeout: float = 60) -> None:
        """Until `instance` answers /healthz (e.g. started again after a kill) and HAProxy has checked it since."""
        url = f'http://127.0.0.1:{self._read(f"{instance}.port").strip()}/healthz'
        wait_until(lambda: http_status(url) == 200, f'{instance} answering /healthz', timeout, interval=0.2)
        time.sleep(2.5)  # HAProxy checks every second and needs one good answer (haproxy.cfg: inter 1s rise 1)

    def kill(self, instance: str) -> None:
        """kill -9 one app process: no shutdown, its sockets just go. scripts/cluster.sh starts it again."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid(instance), signal.SIGKILL)

    def _read(self, name: str) -> str:
        try:
            return (self.run_dir / name).read_bytes().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''


def self_signed_certificate(directory: Path | str) -> tuple[Path, Path]:
    """A certificate and key for 127.0.0.1, valid for a day, written to `directory`: for `SSL_CERTFILE` and
    `SSL_KEYFILE` in HTTPS tests."""
    import datetime
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, '127.0.0.1')])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address('127.0.0.1'))]), False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = Path(directory) / 'cert.pem', Path(directory) / 'key.pem'
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path
