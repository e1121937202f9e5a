"""Pages whose socket never came: what a page load without a browser (curl, a crawler, a flood) may cost.

Every page load builds a NiceGUI client (the root's elements, a couple of hundred KB) that waits for the
browser's socket. NiceGUI 3.18 lets a client that never connected go after 60 s (`Client.prune_instances`) and
keeps any number of them meanwhile. Here a page waits PAGE_CONNECT_TIMEOUT_S for its socket (a browser connects
within a second or two; the default leaves room for a slow network), and at most UNCONNECTED_PAGES_PER_ADDRESS
pages of one client address (an IPv6 address by its /64) and UNCONNECTED_PAGES_MAX in all wait at once: past
that the oldest waiting page goes, first of the same address. A page whose socket came is never touched. A
browser whose page went reloads it when its socket finds no page (NiceGUI's way), so a real person loses nothing
but a moment.
"""

import logging
import time
from dataclasses import dataclass

from nicegui import Client

from voiceconnect import observe
from voiceconnect.ratelimit import Limits, address_key

log = logging.getLogger('voiceconnect')
REPORT_EVERY_S = 60.0  # pages let go are logged as one line at most this often


@dataclass
class _Waiting:
    client: Client
    address: str
    since: float


class UnconnectedPages:
    def __init__(self) -> None:
        self._waiting: dict[str, _Waiting] = {}  # client id → its page, oldest first
        self._dropped = 0  # since the last report
        self._reported_at = -REPORT_EVERY_S

    def __len__(self) -> int:
        return len(self._waiting)

    def arrived(self, client: Client, limits: Limits) -> None:
        """A page was built for `client`: it waits for its socket, and older waiting pages may have to go."""
        now = time.monotonic()
        address = address_key(client.ip)
        self._waiting[client.id] = _Waiting(client, address, now)
        self._drop_expired(now - limits.page_connect_timeout_s)
        same_address = [id_ for id_, page in self._waiting.items() if page.address == address]
        for id_ in same_address[: max(0, len(same_address) - limits.unconnected_pages_per_address)]:
            self._drop(id_)
        for id_ in list(self._waiting)[: max(0, len(self._waiting) - limits.unconnected_pages_max)]:
            self._drop(id_)
        self._report(now, limits)

    def settled(self, client: Client) -> None:
        """Its socket came, or the page is gone: it is not waiting any more."""
        self._waiting.pop(client.id, None)

    def _drop_expired(self, born_before: float) -> None:
        """Pages past their time: a prefetch waits for its socket with no timeout at all in NiceGUI."""
        expired = []
        for id_, page in self._waiting.items():  # oldest first: the first young one ends the search
            if page.since >= born_before:
                break
            expired.append(id_)
        for id_ in expired:
            self._drop(id_)

    def _drop(self, client_id: str) -> None:
        client = self._waiting.pop(client_id).client
        # (a client no longer among NiceGUI's is forgotten as it is: its test simulation drops them all between tests)
        if client.id in Client.instances and not client.is_deleted and not client.has_socket_connection:
            client.delete()
            self._dropped += 1
            observe.notify('rate_limited', limit='unconnected_pages')

    def _report(self, now: float, limits: Limits) -> None:
        if self._dropped and now - self._reported_at >= REPORT_EVERY_S:
            log.warning(
                '⚠️ Rate limited: %d page(s) let go before their socket came (at most %d waiting, %d per address; '
                'reported once a minute)',
                self._dropped,
                limits.unconnected_pages_max,
                limits.unconnected_pages_per_address,
            )
            self._dropped, self._reported_at = 0, now
