"""The switchboard of one of several processes: its hub and its live calls in Redis."""

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

from ..calls.bridging import BridgeRouter
from ..calls.machine import Call
from ..calls.manager import GroupMedia
from ..clock import Clock
from ..connections.device import History
from ..connections.switchboard import Switchboard
from ..people.directory import People
from ..ratelimit import Limits
from ..settings import Timeouts
from .redis_call_store import RedisCallStore
from .redis_hub import RedisHub


def shared_switchboard(
    redis: Redis,
    instance: str,
    clock: Clock,
    history: History,
    timeouts: Timeouts,
    limits: Limits,
    people: People | None = None,
    bridge: BridgeRouter | None = None,
    group_media: GroupMedia = 'auto',
) -> Switchboard:
    """The switchboard of one of several processes: hub and live calls in Redis, this process named `instance`.
    A SharedClock is kept on Redis's clock by the hub: the leases and deadlines every process compares."""
    hub = RedisHub(redis, instance, lease_s=timeouts.reconnect_grace_s, clock=clock)

    def call_store(on_deadline: Callable[[str], Awaitable[None]]) -> RedisCallStore:
        return RedisCallStore(redis, clock, on_deadline, healthy=lambda: hub.healthy)

    board = Switchboard(
        clock, hub, history, timeouts, limits, store=call_store, people=people, bridge=bridge, group_media=group_media
    )
    store = board.calls.store
    assert isinstance(store, RedisCallStore)

    def heard(call: Call) -> None:
        """News of another process's commit: the cache stays current, the bridge lets go of links that went."""
        store.heard(call)
        board.bridge_news(call)

    hub.on_call_heard = heard
    return board
