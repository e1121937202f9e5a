"""Browser-test harness for VoiceConnect: the app as a subprocess, one Chromium per person, voice probes.

Use it as a pytest plugin (in ``conftest.py`` or the test module)::

    pytest_plugins = ['voiceconnect.testing.harness']

    from voiceconnect.testing.harness import wait_for_tone, is_playing


    @pytest.mark.parametrize('vc_settings', [{'RING_TIMEOUT_S': 10}], indirect=True)
    def test_alice_calls_bob(vc_server, people):
        alice, bob = people(2)
        alice.page.get_by_role('button', name=f'Call {bob.name}').click()
        bob.page.get_by_role('dialog').get_by_role('button', name='Accept').click()
        wait_for_tone(alice.page, bob.tone_hz)  # Alice hears Bob's tone, not her own
        wait_for_tone(bob.page, alice.tone_hz)
        vc_server.wait_for_log(f'✅ Call answered: {alice.name} → {bob.name}')

What you get:

- ``vc_server``: a fresh app (``python main.py`` from the repo root) on a free port with its own data dir and
  ``ICE_SERVERS=[]``; settings come from the ``vc_settings`` fixture (a dict, keys with or without the
  ``VOICECONNECT_`` prefix), which a test overrides by indirect parametrisation or by redefining the fixture.
- ``people(n=2, names=None)``: signed-up, signed-in people on the dashboard, each in their own Chromium whose
  fake microphone plays a distinct sine tone (440, 660, 880, 550 ... Hz).
- ``wait_for_tone`` / ``wait_for_silence`` / ``remote_peak_hz``: what ``<audio id="vc-remote-audio">``
  carries; ``is_playing``: whether the ringtone / ringback ``<audio>`` really plays.
- On failure the report gets the server log tail and each person's browser console.

Run browser tests hermetically, inside a private network namespace where only loopback exists::

    unshare --net --fork sh -c 'ip link set lo up; ip addr add 127.0.0.2/8 dev lo; exec python -m pytest'

Chromium facts that shape the probes (measured with Chromium 156):

- Every Playwright ``page.evaluate`` runs with a user gesture, which gives the document sticky user activation
  and so unlocks autoplay. The probes here evaluate through a CDP session without a gesture (``peek``), so they
  never change the autoplay behaviour under test; use ``peek`` too when a test must not unlock autoplay.
- Without activation, ``<audio>.play()`` rejects with ``NotAllowedError`` and an ``AudioContext`` stays
  ``suspended`` -- EXCEPT while the document captures the microphone: then both are allowed. A reload drops
  activation. So ``remote_peak_hz`` (and the waits built on it) resumes its ``AudioContext`` with a gesture
  only when the page neither had one nor captures the mic, which a page in a call never is.
"""

from __future__ import annotations

import array
import atexit
import contextlib
import json
import math
import os
import secrets
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
import wave
import weakref
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self, TypeVar

import pytest
from playwright.sync_api import Browser, BrowserContext, CDPSession, Page, Playwright, sync_playwright

PROJECT_DIR = Path(__file__).resolve().parents[2]
CHROMIUM = '/usr/bin/chromium'
ENV_PREFIX = 'VOICECONNECT_'
TONES_HZ = (440, 660, 880, 550, 770, 990, 330, 1100)
NAMES = ('alice', 'bob', 'carol', 'dave', 'erin', 'frank', 'grace', 'heidi')
LEVEL_THRESHOLD_DB = -60.0
DEFAULT_TIMEOUT_MS = 15_000


# --- media -------------------------------------------------------------------------------------------------


def write_tone_wav(path: Path | str, hz: float, seconds: float = 30, rate: int = 48000, amplitude: float = 0.3) -> Path:
    """Write a 16-bit PCM mono sine tone: Chromium's fake microphone loops this file."""
    peak = int(amplitude * 32767)
    step = 2 * math.pi * hz / rate
    total = int(seconds * rate)
    # A whole-Hz tone repeats exactly every second: compute one second and repeat it (0.5 s -> 20 ms per file).
    chunk = rate if float(hz).is_integer() else total
    samples = array.array('h', (int(peak * math.sin(step * i)) for i in range(min(chunk, total))))
    samples = (samples * (total // max(len(samples), 1) + 1))[:total]
    if sys.byteorder == 'big':  # WAV is little-endian
        samples.byteswap()
    path = Path(path)
    with wave.open(str(path), 'wb') as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(samples.tobytes())
    return path


def chromium_args(tone_wav: Path | str) -> list[str]:
    """Flags for a fake, auto-granted microphone and a browser that stays off the network.

    No --autoplay-policy flag on purpose: tests must see the real autoplay behaviour.
    """
    return [
        '--use-fake-ui-for-media-stream',
        '--use-fake-device-for-media-stream',
        f'--use-file-for-fake-audio-capture={tone_wav}',
        '--allow-loopback-in-peer-connection',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-quic',
        '--no-first-run',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
    ]


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


# --- the app as a subprocess -------------------------------------------------------------------------------


T = TypeVar('T')


def wait_until(
    condition: Callable[[], T | None], what: str | Callable[[], str], timeout: float = 10, interval: float = 0.1
) -> T:
    """Poll `condition` until it returns something truthy and return that; on timeout fail with an AssertionError
    saying what did not happen (`what` may be a function, to describe the last state seen)."""
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f'{what() if callable(what) else what} (waited {timeout:g} s)')
        time.sleep(interval)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return int(sock.getsockname()[1])


def _env_name(key: str) -> str:
    key = key.upper()
    return key if key.startswith(ENV_PREFIX) else ENV_PREFIX + key


def _http_status(url: str) -> int | None:
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


class AppServer:
    """`python main.py` in `project_dir`, on its own port and data dir, logging to `log_path`."""

    def __init__(
        self,
        project_dir: Path,
        data_dir: Path,
        log_path: Path,
        overrides: Mapping[str, Any] | None = None,
        port: int | None = None,
        script: str = 'main.py',
    ) -> None:
        self.project_dir = Path(project_dir)
        self.script = script  # relative to project_dir; benchmarks start other apps the same way
        self.data_dir = Path(data_dir)
        self.log_path = Path(log_path)
        self.port = port or free_port()
        self.overrides = {_env_name(k): str(v) for k, v in (overrides or {}).items()}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        scheme = 'https' if self.overrides.get(f'{ENV_PREFIX}SSL_CERTFILE') else 'http'
        return f'{scheme}://127.0.0.1:{self.port}'

    def env(self) -> dict[str, str]:
        # Drop the caller's VOICECONNECT_* so a developer's shell never leaks into a test run, and pytest's
        # PYTEST_CURRENT_TEST / NICEGUI_*: with them, ui.run() thinks it is a NiceGUI screen test and dies.
        env = {k: v for k, v in os.environ.items() if not k.startswith((ENV_PREFIX, 'PYTEST_', 'NICEGUI_'))}
        env.update(
            PYTHONUNBUFFERED='1',
            VOICECONNECT_HOST='127.0.0.1',
            VOICECONNECT_PORT=str(self.port),
            VOICECONNECT_DATA_DIR=str(self.data_dir),
            VOICECONNECT_ICE_SERVERS='[]',
        )
        env.update(self.overrides)
        return env

    def start(self, timeout: float = 30) -> Self:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open('ab') as log:  # append: a restart keeps the earlier run's lines
            self.process = subprocess.Popen(
                [sys.executable, self.script],
                cwd=self.project_dir,
                env=self.env(),
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: stop() also reaches a reloader's children
            )
        atexit.register(self.stop)  # no orphaned app if the test run dies before its teardown
        self._wait_healthy(timeout)
        return self

    def _wait_healthy(self, timeout: float) -> None:
        def healthy() -> bool:
            if self.process is not None and self.process.poll() is not None:
                self._fail(f'app exited with code {self.process.returncode} before /healthz answered')
            return _http_status(self.url + '/healthz') == 200

        try:
            wait_until(healthy, '/healthz answered 200', timeout, interval=0.2)
        except AssertionError:
            self.stop()
            self._fail(f'/healthz did not answer 200 within {timeout:g} s')

    def _fail(self, message: str) -> None:
        raise RuntimeError(f'{message}\n--- log tail ({self.log_path}) ---\n{self.log_tail()}')

    def stop(self, timeout: float = 10) -> None:
        """SIGTERM (graceful shutdown, as in production), then SIGKILL if it hangs."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def crash(self) -> None:
        """SIGKILL, no shutdown handlers: what a power cut or an OOM kill leaves behind."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def restart(self, timeout: float = 30) -> Self:
        """Stop and start again on the same port and data dir (a server restart as users see it)."""
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

        return wait_until(line, lambda: f'{substring!r} not in the server log\n{self.log_tail()}', timeout)

    def add_user(self, name: str | None = None, password: str | None = None) -> tuple[str, str]:
        """An account made with `python -m voiceconnect.admin add-user` in this app's data dir (e.g. for a program
        using the Python voice client); returns (name, password), made up unless given."""
        name = name or f'bot_{secrets.token_hex(3)}'
        password = password or f'pw-{secrets.token_hex(6)}'
        subprocess.run(
            [sys.executable, '-m', 'voiceconnect.admin', 'add-user', name],
            input=password + '\n',
            text=True,
            check=True,
            capture_output=True,
            cwd=self.project_dir,
            env={**self.env(), 'PYTHONPATH': str(PROJECT_DIR)},
            timeout=60,
        )
        return name, password

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RedisServer:
    """Debian's `redis-server` on a free loopback port, with nothing saved to disk: a real Redis for tests of the
    several-processes setup (`REDIS_URL`). `flush()` empties it between tests that share it. A `persistent` one
    keeps its data in an append-only file, so a stop and a start are an outage, not a loss."""

    def __init__(self, directory: Path, port: int | None = None, persistent: bool = False) -> None:
        self.directory = Path(directory)
        self.port = port or free_port()
        self.persistent = persistent
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'redis://127.0.0.1:{self.port}/0'

    def start(self, timeout: float = 10) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        command = ['redis-server', '--port', str(self.port), '--bind', '127.0.0.1', '--save', '']
        command += ['--appendonly', 'yes', '--appendfsync', 'always'] if self.persistent else ['--appendonly', 'no']
        with (self.directory / 'redis.log').open('ab') as log:
            self.process = subprocess.Popen(
                command, cwd=self.directory, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        atexit.register(self.stop)
        wait_until(self._answers, f'redis-server answering on port {self.port}', timeout, interval=0.05)
        return self

    def _answers(self) -> bool:
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

    def pause(self) -> None:
        """SIGSTOP: a hung Redis. Its connections stay open and accept what is sent, and nothing is answered."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT after `pause`: it answers again, what was sent meanwhile included."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def stop(self) -> None:
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGCONT)  # a paused one cannot act on SIGTERM
            process.terminate()
            process.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class Cluster:
    """`scripts/cluster.sh N` as an operator runs it: Redis, N app processes (app1…appN) and HAProxy in front,
    on free loopback ports, with its pids and logs in `run_dir`."""

    def __init__(
        self, project_dir: Path, run_dir: Path, n: int = 2, overrides: Mapping[str, Any] | None = None
    ) -> None:
        self.project_dir = Path(project_dir)
        self.run_dir = Path(run_dir)
        self.n = n
        self.port = free_port()
        self.overrides = {_env_name(k): str(v) for k, v in (overrides or {}).items()}
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'http://127.0.0.1:{self.port}'

    @property
    def data_dir(self) -> Path:
        """Shared by the processes: the database and NiceGUI's files."""
        return self.run_dir / 'data'

    def start(self, timeout: float = 90) -> Self:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith((ENV_PREFIX, 'PYTEST_', 'NICEGUI_'))}
        env.update(
            PORT=str(self.port),
            CLUSTER_DIR=str(self.run_dir),
            VOICECONNECT_DATA_DIR=str(self.data_dir),
            VOICECONNECT_ICE_SERVERS='[]',
        )
        env.pop('REDIS_URL', None)
        env.update(self.overrides)
        with (self.run_dir / 'cluster.out').open('ab') as out:
            self.process = subprocess.Popen(
                ['bash', 'scripts/cluster.sh', str(self.n)],
                cwd=self.project_dir,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        atexit.register(self.stop)
        wait_until(lambda: 'Ctrl-C stops them all' in self._read('cluster.out'), self._tail, timeout, interval=0.2)
        return self

    def pid(self, instance: str) -> int:
        return int(self._read(f'{instance}.pid'))

    def wait_serving(self, instance: str, timeout: float = 60) -> None:
        """Until `instance` answers /healthz (e.g. started again after a kill) and HAProxy has checked it since."""
        url = f'http://127.0.0.1:{self._read(f"{instance}.port").strip()}/healthz'
        wait_until(lambda: _http_status(url) == 200, f'{instance} answering /healthz', timeout, interval=0.2)
        time.sleep(2.5)  # HAProxy checks every second and needs one good answer (haproxy.cfg: inter 1s rise 1)

    def kill(self, instance: str) -> None:
        """kill -9 one app process: no shutdown, its sockets just go. scripts/cluster.sh starts it again."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(self.pid(instance), signal.SIGKILL)

    def log_text(self, instance: str | None = None) -> str:
        names = [instance] if instance else [f'app{i}' for i in range(1, self.n + 1)]
        return ''.join(self._read(f'{name}.log') for name in names)

    def wait_for_log(self, substring: str, timeout: float = 10) -> str:
        def line() -> str | None:
            return next((line for line in self.log_text().splitlines() if substring in line), None)

        return wait_until(line, lambda: f'{substring!r} not in the logs\n{self._tail()}', timeout)

    def stop(self, timeout: float = 20) -> None:
        """Ctrl-C, as an operator stops it."""
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)

    def _read(self, name: str) -> str:
        try:
            return (self.run_dir / name).read_bytes().decode('utf-8', errors='replace')
        except FileNotFoundError:
            return ''

    def _tail(self) -> str:
        return f'the cluster did not start\n{self._read("cluster.out")[-3000:]}'

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CoturnServer:
    """Debian's coturn (`turnserver`) on a free loopback port with coturn's REST API scheme (`use-auth-secret`):
    a real TURN relay for tests of TURN_URLS / TURN_SECRET and ICE_TRANSPORT_POLICY=relay. Loopback peers are
    allowed (everything is on loopback in the test's private network namespace)."""

    def __init__(self, directory: Path, secret: str | None = None, port: int | None = None) -> None:
        self.directory = Path(directory)
        self.secret = secret or secrets.token_urlsafe(24)
        self.port = port or free_port()
        self.realm = 'voiceconnect.test'
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f'turn:127.0.0.1:{self.port}?transport=udp'

    @property
    def log_path(self) -> Path:
        return self.directory / 'turnserver.log'

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
            str(self.log_path),
            '--simple-log',
            '--no-stdout-log',
            '--db',
            str(self.directory / 'turndb'),
            '--pidfile',
            str(self.directory / 'turnserver.pid'),
        ]

    def start(self, timeout: float = 10) -> Self:
        self.directory.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            self.command(),
            cwd=self.directory,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        atexit.register(self.stop)
        wait_until(self._answers, f'turnserver answering on port {self.port}', timeout, interval=0.05)
        return self

    def _answers(self) -> bool:
        """A STUN binding request answered (coturn answers binding requests without credentials)."""
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(f'turnserver exited with {self.process.returncode}: {self.log_text()[-2000:]}')
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

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors='replace')
        except FileNotFoundError:
            return ''

    def stop(self) -> None:
        process, self.process = self.process, None
        atexit.unregister(self.stop)
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


# --- people: one browser each ------------------------------------------------------------------------------


@dataclass
class Person:
    name: str
    password: str
    tone_hz: float
    browser: Browser
    context: BrowserContext
    page: Page
    console: list[str] = field(default_factory=list)  # browser console lines, shown when a test fails

    def console_section(self) -> tuple[str, str]:
        return f'browser console of {self.name}', '\n'.join(self.console)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.browser.close()


def launch_person(playwright: Playwright, name: str, tone_hz: float, tmp_dir: Path | str, password: str = '') -> Person:
    """One Chromium process per person: the fake microphone file is per process, not per page."""
    tone = write_tone_wav(Path(tmp_dir) / f'{name}-{tone_hz:g}hz.wav', tone_hz)
    browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=chromium_args(tone))
    context = browser.new_context()
    context.set_default_timeout(DEFAULT_TIMEOUT_MS)
    page = context.new_page()
    person = Person(name, password, tone_hz, browser, context, page)
    page.on('console', lambda msg: person.console.append(f'[{msg.type}] {msg.text}'))
    page.on('pageerror', lambda err: person.console.append(f'[pageerror] {err}'))
    return person


def _submit_login(page: Page, base_url: str, name: str, password: str, button: str) -> None:
    page.goto(base_url.rstrip('/') + '/login')
    page.get_by_label('Username').fill(name)
    page.get_by_label('Password').fill(password)
    page.get_by_role('button', name=button).click()
    page.get_by_text(f'Signed in as {name}').wait_for(state='visible')


def sign_up(page: Page, base_url: str, name: str, password: str) -> None:
    _submit_login(page, base_url, name, password, 'Create account')


def sign_in(page: Page, base_url: str, name: str, password: str) -> None:
    _submit_login(page, base_url, name, password, 'Sign in')


# --- probes: evaluated without a user gesture --------------------------------------------------------------

_cdp_sessions: weakref.WeakKeyDictionary[Page, CDPSession] = weakref.WeakKeyDictionary()


def peek(page: Page, expression: str) -> Any:
    """Evaluate JS like page.evaluate, but WITHOUT a user gesture (page.evaluate grants one in Chromium)."""
    cdp = _cdp_sessions.get(page)
    if cdp is None:
        cdp = _cdp_sessions[page] = page.context.new_cdp_session(page)
    reply = cdp.send(
        'Runtime.evaluate',
        {'expression': expression, 'awaitPromise': True, 'returnByValue': True, 'userGesture': False},
    )
    if 'exceptionDetails' in reply:
        details = reply['exceptionDetails']
        raise RuntimeError(details.get('exception', {}).get('description') or details.get('text'))
    return reply['result'].get('value')


def has_user_activation(page: Page) -> bool:
    """Whether the document ever had a user gesture, i.e. whether autoplay with sound is unlocked."""
    return bool(peek(page, 'navigator.userActivation.hasBeenActive'))


# Cached on window; rebuilt when the app attaches another stream or track (a new call).
_MEASURE_JS = """(async () => {
  const el = document.getElementById('vc-remote-audio');
  const stream = el && el.srcObject;
  const track = stream && stream.getAudioTracks ? stream.getAudioTracks()[0] : null;
  if (!track) return {ready: false, reason: 'no remote audio track on #vc-remote-audio'};
  if (track.readyState !== 'live') return {ready: false, reason: 'remote track ' + track.readyState};
  let p = window.__vcProbe;
  if (!p || p.stream !== stream || p.trackId !== track.id) {
    if (p) p.ctx.close();
    const ctx = new AudioContext();
    const analyser = ctx.createAnalyser();
    analyser.fftSize = 8192;
    analyser.smoothingTimeConstant = 0;  // each poll sees the present, not a decaying past
    ctx.createMediaStreamSource(stream).connect(analyser);
    p = window.__vcProbe = {stream, trackId: track.id, ctx, analyser, created: performance.now(),
                            bins: new Float32Array(analyser.frequencyBinCount)};
  }
  if (p.ctx.state !== 'running') {
    await Promise.race([p.ctx.resume().catch(() => {}), new Promise(r => setTimeout(r, 200))]);
  }
  if (p.ctx.state !== 'running') return {ready: false, suspended: true, reason: 'AudioContext ' + p.ctx.state};
  if (performance.now() - p.created < 250) return {ready: false, reason: 'analyser warming up'};
  p.analyser.getFloatFrequencyData(p.bins);
  let best = 1;
  for (let i = 2; i < p.bins.length; i++) if (p.bins[i] > p.bins[best]) best = i;
  const db = Number.isFinite(p.bins[best]) ? p.bins[best] : -200;
  return {ready: true, hz: best * p.ctx.sampleRate / p.analyser.fftSize, db};
})()"""


@dataclass
class Peak:
    hz: float
    db: float


def _measure(page: Page) -> Peak | str:
    """One analyser reading of the remote audio, or the reason there is none yet."""
    result = peek(page, _MEASURE_JS)
    if result.get('suspended'):
        # An AudioContext needs user activation; only here does the harness grant a gesture.
        page.evaluate('() => window.__vcProbe && window.__vcProbe.ctx.resume()')
        result = peek(page, _MEASURE_JS)
    if not result.get('ready'):
        return str(result.get('reason'))
    return Peak(float(result['hz']), float(result['db']))


def _poll(page: Page, timeout: float, done: Callable[[Peak], bool], what: str, needed: int = 2) -> Peak:
    """Poll the analyser until `done` holds for `needed` readings in a row (one glitch proves nothing)."""
    last: Peak | str = 'not measured'
    streak = 0

    def steady() -> Peak | None:
        nonlocal last, streak
        last = _measure(page)
        streak = streak + 1 if isinstance(last, Peak) and done(last) else 0
        return last if isinstance(last, Peak) and streak >= needed else None

    def failure() -> str:
        shown = f'{last.hz:.1f} Hz at {last.db:.1f} dB' if isinstance(last, Peak) else last
        return f'{what}; last remote peak: {shown}'

    return wait_until(steady, failure, timeout, interval=0.15)


def remote_peak(page: Page, timeout: float = 10) -> Peak:
    """Loudest frequency bin of the remote audio and its level, once a reading is possible."""
    return _poll(page, timeout, lambda _: True, 'no reading of #vc-remote-audio', needed=1)


def remote_peak_hz(page: Page, timeout: float = 10) -> float:
    return remote_peak(page, timeout).hz


def wait_for_tone(
    page: Page, hz: float, tol: float = 15, timeout: float = 15, threshold_db: float = LEVEL_THRESHOLD_DB
) -> Peak:
    """Assert the remote audio carries `hz` (the peer's tone), loud enough to be more than noise."""
    return _poll(
        page, timeout, lambda p: abs(p.hz - hz) <= tol and p.db > threshold_db, f'remote audio did not carry {hz:g} Hz'
    )


def wait_for_silence(page: Page, timeout: float = 10, threshold_db: float = LEVEL_THRESHOLD_DB) -> Peak:
    """Assert the remote audio is live but silent (e.g. the peer muted)."""
    return _poll(page, timeout, lambda p: p.db < threshold_db, 'remote audio did not fall silent')


_IS_PLAYING_JS = """(async (id) => {
  const el = document.getElementById(id);
  if (!el || el.paused || el.ended) return false;
  const t0 = el.currentTime;
  await new Promise(r => setTimeout(r, 300));
  return !el.paused && el.currentTime > t0;
})(%s)"""


def is_playing(page: Page, element_id: str) -> bool:
    """Whether <audio id=element_id> exists, is not paused and its time advances (autoplay really worked)."""
    return bool(peek(page, _IS_PLAYING_JS % json.dumps(element_id)))


# --- pytest plugin -----------------------------------------------------------------------------------------

_REPORTS = pytest.StashKey[list[Callable[[], tuple[str, str]]]]()


def _add_failure_section(request: pytest.FixtureRequest, section: Callable[[], tuple[str, str]]) -> None:
    request.node.stash.setdefault(_REPORTS, []).append(section)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report: pytest.TestReport = yield
    if report.failed:  # what the server and browsers said is most of a browser test's diagnosis
        for section in item.stash.get(_REPORTS, []):
            with contextlib.suppress(Exception):
                report.sections.append(section())
    return report


@pytest.fixture(scope='session')
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """One real Redis for the test session (Debian's redis-server); tests that share it flush it."""
    with RedisServer(tmp_path_factory.mktemp('redis')) as server:
        yield server


@pytest.fixture
def redis_url(redis_server: RedisServer) -> str:
    """The URL of an empty Redis."""
    redis_server.flush()
    return redis_server.url


@pytest.fixture
def vc_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """Extra VOICECONNECT_* settings for `vc_server`: parametrize indirectly or redefine in a test module."""
    return dict(getattr(request, 'param', {}))


@pytest.fixture
def vc_server(
    request: pytest.FixtureRequest, vc_settings: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[AppServer]:
    """A fresh app per test: own port, own data dir, no ICE servers; settings via `vc_settings`."""
    overrides = {**vc_settings, **dict(getattr(request, 'param', {}))}
    root = tmp_path_factory.mktemp('vc-server')
    server = AppServer(PROJECT_DIR, root / 'data', root / 'server.log', overrides)
    _add_failure_section(request, lambda: ('voiceconnect server log', server.log_tail(200)))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope='module')
def playwright_sync() -> Iterator[Playwright]:
    # Module scope, not session: while the sync API runs it holds an event loop on the main thread, and
    # pytest-asyncio tests in later modules (e.g. NiceGUI's simulated User) need that thread's loop free.
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture
def people(
    request: pytest.FixtureRequest, vc_server: AppServer, playwright_sync: Playwright, tmp_path: Path
) -> Iterator[Callable[..., list[Person]]]:
    """Factory: people(n=2, names=None) -> signed-up people on the dashboard, one browser and tone each."""
    made: list[Person] = []

    def make(n: int = 2, names: list[str] | None = None) -> list[Person]:
        if not names:
            names = [f'{NAMES[(len(made) + i) % len(NAMES)]}_{secrets.token_hex(2)}' for i in range(n)]
        batch = []
        for name in names:
            tone = TONES_HZ[len(made) % len(TONES_HZ)]
            person = launch_person(playwright_sync, name, tone, tmp_path, password='pw-' + secrets.token_hex(6))
            made.append(person)  # before signing up, so a failed sign-up still closes the browser
            _add_failure_section(request, person.console_section)
            sign_up(person.page, vc_server.url, person.name, person.password)
            _on_dashboard(person.page, vc_server.url)
            batch.append(person)
        return batch

    yield make
    for person in made:
        person.close()


def _on_dashboard(page: Page, base_url: str) -> None:
    # The contract says where a signed-in person can be, not where sign-up lands: make sure it is '/'.
    dashboard = base_url.rstrip('/') + '/'
    if page.url != dashboard:
        page.goto(dashboard)
    page.get_by_text('Signed in as').first.wait_for(state='visible')
