"""What page loads no socket followed may hold (web/unconnected_pages.py; against the running app in
tests/security/test_misc.py): at most so many per address and in all, oldest first, never a page whose socket came,
none past the connect timeout."""

import itertools
import time
from typing import Any

import pytest
from nicegui import Client

from voiceconnect.ratelimit import Limits
from web.unconnected_pages import UnconnectedPages

LIMITS = Limits(unconnected_pages_max=5, unconnected_pages_per_address=3, page_connect_timeout_s=15)
_ids = itertools.count()


class FakeClient:
    def __init__(self, ip: str) -> None:
        self.id = f'client-{next(_ids)}'
        self.ip = ip
        self.is_deleted = False
        self.has_socket_connection = False

    def delete(self) -> None:
        self.is_deleted = True
        del Client.instances[self.id]


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    clock = [1000.0]
    monkeypatch.setattr(time, 'monotonic', lambda: clock[0])  # the module's clock (its `time` is this one)
    return clock


@pytest.fixture(autouse=True)
def clients(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    """NiceGUI's registry of clients, for the fakes only."""
    registry: dict[str, Any] = {}
    monkeypatch.setattr(Client, 'instances', registry)
    return registry


def load(pages: UnconnectedPages, ip: str, n: int = 1) -> list[FakeClient]:
    made = [FakeClient(ip) for _ in range(n)]
    for client in made:
        Client.instances[client.id] = client  # type: ignore[assignment]
        pages.arrived(client, LIMITS)  # type: ignore[arg-type]
    return made


def deleted(clients: list[Any]) -> list[bool]:
    return [client.is_deleted for client in clients]


def test_one_address_pushes_out_only_its_own_oldest_pages(now: list[float]) -> None:
    pages = UnconnectedPages()
    other = load(pages, '192.0.2.7')
    flood = load(pages, '198.51.100.1', 10)
    assert deleted(flood) == [True] * 7 + [False] * 3
    assert deleted(other) == [False]
    assert len(pages) == 4


def test_an_ipv6_address_counts_by_its_64(now: list[float]) -> None:
    pages = UnconnectedPages()
    flood = [*load(pages, '2001:db8::1', 2), *load(pages, '2001:db8::ffff', 2)]
    assert deleted(flood) == [True, False, False, False]


def test_many_addresses_are_bounded_in_all_oldest_first(now: list[float]) -> None:
    pages = UnconnectedPages()
    clients = [load(pages, f'203.0.113.{n}')[0] for n in range(8)]
    assert deleted(clients) == [True] * 3 + [False] * 5


def test_a_page_whose_socket_came_is_never_let_go(now: list[float]) -> None:
    pages = UnconnectedPages()
    (connected,) = load(pages, '192.0.2.7')
    connected.has_socket_connection = True
    pages.settled(connected)  # type: ignore[arg-type]
    load(pages, '192.0.2.7', 20)
    assert not connected.is_deleted


def test_pages_past_the_connect_timeout_go_at_the_next_load(now: list[float]) -> None:
    pages = UnconnectedPages()
    (prefetched,) = load(pages, '192.0.2.7')  # a prefetch: NiceGUI waits for its socket with no timeout
    now[0] += LIMITS.page_connect_timeout_s + 1
    load(pages, '192.0.2.8')
    assert prefetched.is_deleted
    assert len(pages) == 1


def test_pages_let_go_are_logged_once_a_minute(now: list[float], caplog: pytest.LogCaptureFixture) -> None:
    pages = UnconnectedPages()
    load(pages, '198.51.100.1', 10)
    now[0] += 30
    load(pages, '198.51.100.1', 10)
    now[0] += 31
    load(pages, '198.51.100.1', 1)
    lines = [record.getMessage() for record in caplog.records if 'let go' in record.getMessage()]
    assert lines[0].startswith('⚠️ Rate limited: 1 page(s) let go') and len(lines) == 2
    assert lines[1].startswith('⚠️ Rate limited: 19 page(s) let go')  # 6 + 10 pushed out, 3 past their time


def test_a_client_nicegui_no_longer_has_is_forgotten_untouched(now: list[float]) -> None:
    pages = UnconnectedPages()
    (stale,) = load(pages, '192.0.2.7')
    del Client.instances[stale.id]  # e.g. NiceGUI's test simulation, between tests
    now[0] += LIMITS.page_connect_timeout_s + 1
    load(pages, '192.0.2.7')
    assert not stale.is_deleted and len(pages) == 1
