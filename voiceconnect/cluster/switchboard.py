"""The switchboard of one of several processes: its hub and its live calls in Redis."""

from collections.abc import Awaitable, Callable

from redis.asyncio import Redis

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
) -> Switchboard:
    """The switchboard of one of several processes: hub and live calls in Redis, this process named `instance`.
    A SharedClock is kept on Redis's clock by the hub: the leases and deadlines every process compares."""
    hub = RedisHub(redis, instance, lease_s=timeouts.reconnect_grace_s, clock=clock)

    def call_store(on_deadline: Callable[[str], Awaitable[None]]) -> RedisCallStore:
        store = RedisCallStore(redis, clock, on_deadline, healthy=lambda: hub.healthy)
        hub.on_call_heard = store.heard  # news of other processes' commits keeps the cache current
        return store

    return Switchboard(clock, hub, history, timeouts, limits, store=call_store, people=people)
