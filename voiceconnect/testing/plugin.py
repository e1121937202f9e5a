"""The pytest plugin for browser tests of VoiceConnect: the app as a subprocess, one Chromium per person.

Use it in ``conftest.py`` (or the test module)::

    pytest_plugins = ['voiceconnect.testing.plugin']

    from voiceconnect.testing.probes import wait_for_tone


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
- ``redis_server`` (one real Redis for the session) and ``redis_url`` (that Redis, emptied).
- ``janus_server``: one real Janus Gateway for the session (AudioBridge; ``url``, ``api_secret``, ``admin_key``).
- On failure the report gets the server log tail and each person's browser console.

The rest of the harness is plain modules: ``servers`` (the app, Redis, coturn, the cluster script), ``janus`` (Janus
Gateway), ``browser`` (people in Chromium, ``peek``), ``probes`` (what a page hears: ``wait_for_tone``, ``is_playing``
…), ``audio`` (tone files and recordings) and ``waiting`` (``wait_until``).

Run browser tests hermetically, inside a private network namespace where only loopback exists::

    unshare --net --fork sh -c 'ip link set lo up; ip addr add 127.0.0.2/8 dev lo; exec python -m pytest'
"""

from __future__ import annotations

import contextlib
import secrets
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Playwright, sync_playwright

from .browser import NAMES, TONES_HZ, Person, launch_person, on_dashboard, sign_up
from .janus import JanusServer
from .servers import PROJECT_DIR, AppServer, RedisServer

__all__ = [
    'janus_server',
    'people',
    'playwright_sync',
    'pytest_runtest_makereport',
    'redis_server',
    'redis_url',
    'vc_server',
    'vc_settings',
]

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


@pytest.fixture(scope='session')
def janus_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[JanusServer]:
    """One real Janus for the test session (Debian's janus, AudioBridge only, ICE on a veth pair inside the test's
    private network namespace: see voiceconnect.testing.janus)."""
    with JanusServer(tmp_path_factory.mktemp('janus')) as server:
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
            on_dashboard(person.page, vc_server.url)
            batch.append(person)
        return batch

    yield make
    for person in made:
        person.close()
