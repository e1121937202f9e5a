"""Rate limits: how often one key (an account, a client address, a tab) may do something, on the project's Clock.

- `RateLimiter`: at most `limit` events per `per_s` seconds, `burst` of them at once (GCRA, the token bucket that
  keeps one timestamp per key). Sign-ups per address, call attempts per user, signaling messages per tab.
- `FailureLockout`: sign-in failures. After `limit` failures within `window_s` a key is locked for `first_lock_s`
  (`window_s` unless given); after that every further failure locks it again for twice as long, up to
  `max_lock_s`. A key that stays quiet for `max_lock_s` starts afresh. Attempts in flight count, so parallel
  guesses cannot slip past the limit.

Both forget keys whose state has lapsed and keep at most `max_keys` keys (least recently used go first), so
someone spraying names or addresses cannot grow memory without bound.
"""

import ipaddress
import itertools
import math
from collections import deque
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from .clock import Clock

MAX_KEYS = 50_000
REPORT_EVERY_S = 60.0  # a key that keeps being refused is reported (logged, told) at most this often
PRUNE_PER_HIT = 2  # lapsed keys looked at per hit: forgetting keeps pace with new keys
SLACK_S = 1e-6  # sums of float intervals drift: the last event of a burst must not be refused for that

K = TypeVar('K', bound=Hashable)
S = TypeVar('S')


@dataclass(frozen=True)
class Limited:
    """A refusal: how long until the key may try again, and whether to report this one.

    `report` is true for the first refusal of a key, then at most once per `REPORT_EVERY_S`, so a flood makes
    one log line and one message, not one per dropped event; `refused` counts the refusals that report covers.
    """

    retry_after_s: float
    report: bool = True
    refused: int = 1

    @property
    def wait(self) -> str:
        return wait_text(self.retry_after_s)


def address_key(address: str) -> str:
    """The key a client address is limited by: an IPv6 address by its /64, since one home or host usually has a
    whole /64 to pick addresses from; an IPv4 address (or anything else) as it is."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def wait_text(seconds: float) -> str:
    """`12 s` or `6 min`: rounded up, so waiting that long is always enough."""
    whole = max(1, math.ceil(seconds))
    return f'{whole} s' if whole < 120 else f'{math.ceil(whole / 60)} min'


class _Keys(Generic[K, S]):
    """Per-key state in least-recently-used order, bounded in size."""

    def __init__(self, max_keys: int) -> None:
        if max_keys < 1:
            raise ValueError('max_keys must be at least 1')
        self.max_keys = max_keys
        self.states: dict[K, S] = {}

    def take(self, key: K) -> S | None:
        """Remove and return the key's state; `put` it back to mark the key as the most recently used."""
        return self.states.pop(key, None)

    def put(self, key: K, state: S) -> None:
        self.states[key] = state

    def forget_lapsed(self, lapsed: Callable[[S], bool]) -> None:
        """Look at the least recently used few keys and forget those whose state has lapsed."""
        for key, state in list(itertools.islice(self.states.items(), PRUNE_PER_HIT)):
            if lapsed(state):
                del self.states[key]

    def bound(self) -> None:
        """Evict the least recently used keys down to three quarters, so eviction is rare (amortised O(1))."""
        if len(self.states) > self.max_keys:
            for key in list(self.states)[: len(self.states) - self.max_keys * 3 // 4]:
                del self.states[key]

    def __len__(self) -> int:
        return len(self.states)


@dataclass(slots=True)
class _Bucket:
    tat: float  # "theoretical arrival time": when the key's bucket is full again
    reported_at: float | None = None
    unreported: int = 0  # refusals since the last report


class RateLimiter(Generic[K]):
    """At most `limit` events per `per_s` seconds per key, up to `burst` (default `limit`) of them at once."""

    def __init__(
        self,
        limit: int,
        per_s: float,
        clock: Clock,
        *,
        burst: int | None = None,
        max_keys: int = MAX_KEYS,
        report_every_s: float = REPORT_EVERY_S,
    ) -> None:
        if limit < 1 or per_s <= 0 or (burst is not None and burst < 1):
            raise ValueError('a rate limit needs limit ≥ 1, per_s > 0 and burst ≥ 1')
        self.clock = clock
        self.interval = per_s / limit  # one event's share of the window
        self.tolerance = self.interval * (burst or limit)  # how far ahead of now a key's bucket may run
        self.report_every_s = report_every_s
        self._keys: _Keys[K, _Bucket] = _Keys(max_keys)

    def hit(self, key: K) -> Limited | None:
        """Count one event of `key` if it is allowed now (None), or refuse it without counting it."""
        now = self.clock.now()
        self._keys.forget_lapsed(lambda bucket: self._lapsed(bucket, now))
        bucket = self._keys.take(key) or _Bucket(tat=now)
        after = max(bucket.tat, now) + self.interval
        if after - now > self.tolerance + SLACK_S:
            refusal = self._refuse(bucket, now, retry_after_s=after - self.tolerance - now)
            self._keys.put(key, bucket)
            return refusal
        bucket.tat = after
        self._keys.put(key, bucket)
        self._keys.bound()
        return None

    def _refuse(self, bucket: _Bucket, now: float, retry_after_s: float) -> Limited:
        bucket.unreported += 1
        if bucket.reported_at is not None and now - bucket.reported_at < self.report_every_s:
            return Limited(retry_after_s, report=False, refused=bucket.unreported)
        refused, bucket.unreported, bucket.reported_at = bucket.unreported, 0, now
        return Limited(retry_after_s, report=True, refused=refused)

    def _lapsed(self, bucket: _Bucket, now: float) -> bool:
        """Full again, and not reported lately (forgetting it must not restart the report interval)."""
        recently_reported = bucket.reported_at is not None and now - bucket.reported_at < self.report_every_s
        return bucket.tat <= now and not recently_reported

    def __len__(self) -> int:
        return len(self._keys)


@dataclass(slots=True)
class _Record:
    failures: deque[float] = field(default_factory=deque)  # times of the failures within the window
    pending: int = 0  # attempts being checked right now
    locked_until: float = 0.0
    strikes: int = 0  # locks so far; each doubles the next
    last_seen: float = 0.0


class FailureLockout(Generic[K]):
    """`limit` failures per `window_s` per key, then a lock that doubles with every further failure."""

    def __init__(
        self,
        limit: int,
        window_s: float,
        clock: Clock,
        *,
        max_lock_s: float,
        first_lock_s: float | None = None,
        max_keys: int = MAX_KEYS,
    ) -> None:
        if limit < 1 or window_s <= 0 or max_lock_s <= 0 or (first_lock_s is not None and first_lock_s <= 0):
            raise ValueError('a failure lockout needs limit ≥ 1, window_s > 0, max_lock_s > 0 and first_lock_s > 0')
        self.limit = limit
        self.window_s = window_s
        self.first_lock_s = first_lock_s or window_s
        self.max_lock_s = max_lock_s
        self.clock = clock
        self._keys: _Keys[K, _Record] = _Keys(max_keys)

    def begin(self, key: K) -> Limited | None:
        """An attempt starts: refused while the key is locked or its allowance is taken by attempts in flight.
        An allowed attempt must end with `failed` or `succeeded`."""
        now = self.clock.now()
        self._keys.forget_lapsed(lambda record: self._lapsed(record, now))
        record = self._keys.take(key) or _Record()
        self._keys.put(key, record)
        self._keys.bound()
        record.last_seen = now
        self._drop_old_failures(record, now)
        if record.locked_until > now:  # the failure that locked it was reported: attempts meanwhile are not
            return Limited(record.locked_until - now, report=False)
        if record.pending >= self._allowance(record):
            return Limited(1.0, report=False)  # only parallel attempts get here; one of them will settle soon
        record.pending += 1
        return None

    def failed(self, key: K) -> Limited | None:
        """The attempt failed: counted, and the lock it starts, if any, is returned (report=True)."""
        now = self.clock.now()
        record = self._settle(key, now)
        record.failures.append(now)
        self._drop_old_failures(record, now)
        if record.strikes == 0 and len(record.failures) < self.limit:
            return None
        lock_s = min(self.first_lock_s * 2**record.strikes, self.max_lock_s)
        record.strikes += 1
        record.locked_until = now + lock_s
        record.failures.clear()
        return Limited(lock_s)

    def succeeded(self, key: K) -> None:
        """The attempt succeeded: the key's failures are forgiven."""
        record = self._settle(key, self.clock.now())
        if record.pending == 0:
            self._keys.take(key)
        else:
            record.failures.clear()
            record.strikes = 0

    def released(self, key: K) -> None:
        """The attempt ended without counting against the key (it erred, or succeeded where success forgives
        nothing, as for a client address shared by many people)."""
        self._settle(key, self.clock.now())

    def _settle(self, key: K, now: float) -> _Record:
        record = self._keys.take(key) or _Record()  # evicted meanwhile: count it on a fresh record
        record.pending = max(0, record.pending - 1)
        record.last_seen = now
        self._keys.put(key, record)
        return record

    def _allowance(self, record: _Record) -> int:
        return 1 if record.strikes else self.limit - len(record.failures)

    def _drop_old_failures(self, record: _Record, now: float) -> None:
        while record.failures and record.failures[0] <= now - self.window_s:
            record.failures.popleft()

    def _lapsed(self, record: _Record, now: float) -> bool:
        """Quiet for `max_lock_s` (and a window) after its last attempt and lock: its strikes are forgiven."""
        quiet_s = max(self.max_lock_s, self.window_s)
        return record.pending == 0 and now - max(record.last_seen, record.locked_until) >= quiet_s

    def __len__(self) -> int:
        return len(self._keys)


class Limits(BaseModel):
    """The limits as configured: the base of `Settings`, whose environment variables (`SIGNIN_FAILURES_PER_MINUTE`
    …) have these names; the defaults here are the settings' defaults."""

    model_config = ConfigDict(frozen=True, extra='forbid')  # a misspelt limit is an error, not the default

    signin_failures_per_minute: int = Field(
        5,
        gt=0,
        description='failed sign-ins per username (ignoring case) from one client address, then a lock of that name '
        'from that address only, doubling up to the max',
    )
    signin_failures_per_minute_per_address: int = Field(
        20, gt=0, description='failed sign-ins per client address; higher, since several people may share one (NAT)'
    )
    signin_failures_per_hour_per_name: int = Field(
        100,
        gt=0,
        description='failed sign-ins per username from all addresses together (distributed guessing), then a lock '
        'of 60 s doubling up to the max, for browsers the name never signed in on',
    )
    signin_attempts_per_minute_per_address: int = Field(
        30, gt=0, description='sign-in attempts per client address, successful or not: each costs an argon2 check'
    )
    signin_lockout_max_s: float = Field(900.0, gt=0, description='the longest sign-in lock; locks start at 60 s')
    session_idle_s: float = Field(
        7 * 24 * 3600.0, gt=0, description='a session not in use this long ends (no tab or program connected)'
    )
    session_max_age_s: float = Field(
        30 * 24 * 3600.0, gt=0, description='every session ends this long after its sign-in, even one in use'
    )
    sessions_per_user: int = Field(20, gt=0, description='sessions one account may have; a new one ends the oldest')
    signups_per_hour_per_address: int = Field(10, gt=0, description='accounts created per client address')
    calls_per_minute: int = Field(10, gt=0, description='call attempts per user (an invitation into a call counts)')
    group_max: int = Field(
        8,
        ge=2,
        le=64,
        description='most people in one call once calls can move to a bridge (JANUS_URL; until then MESH_MAX)',
    )
    mesh_max: int = Field(
        4, ge=2, le=16, description='most people in one call without a bridge (each browser holds a peer each)'
    )
    signals_per_second: int = Field(50, gt=0, description='signaling messages per tab, sustained; excess dropped')
    signal_burst: int = Field(
        200, gt=0, description="signaling messages per tab at once: a call's offers and ICE candidates come in a burst"
    )
    # page loads that no socket followed (curl, a crawler, a flood): how long one waits, and how many may wait
    page_connect_timeout_s: float = Field(
        15.0, gt=0, description='how long a loaded page waits for its socket before it is let go (slow networks)'
    )
    unconnected_pages_max: int = Field(
        500, gt=0, description='loaded pages waiting for their socket at once, in all; past it the oldest go'
    )
    unconnected_pages_per_address: int = Field(
        50, gt=0, description="the same per client address (IPv6: per /64); past it that address's oldest go"
    )
    # what a person does by hand, each costing work for others (a write, a message to every tab, a whole list):
    # far above what a hand does, so only a script meets them
    dnd_changes_per_minute: int = Field(
        20, gt=0, description='do not disturb switched on or off per user (each tells every online tab)'
    )
    searches_per_minute: int = Field(60, gt=0, description='people searches per user (a database query each)')
    list_refreshes_per_minute: int = Field(
        60, gt=0, description='whole online lists asked for per user (a page shown, a socket back, a program asking)'
    )
    mutes_per_minute: int = Field(60, gt=0, description="mute or unmute per user (each tells the call's tabs)")
    browser_logs_per_minute: int = Field(
        10, gt=0, description="log messages a browser page may write into the server's log"
    )
    # how much one person or address may hold open
    tabs_per_user: int = Field(
        40, gt=0, description="a user's tabs and program sockets at once, every browser and device together"
    )
    tabs_per_address: int = Field(
        200, gt=0, description='tabs and program sockets from one client address (IPv6: per /64) in one process'
    )
    program_sockets_per_session: int = Field(
        5, gt=0, description="program sockets one session's token may hold at once (a dropped one counts for its grace)"
    )
    outgoing_queue_max_bytes: int = Field(
        1024 * 1024,
        ge=64 * 1024,
        description='what may wait to be sent on one socket; a client reading slower is disconnected (and reconnects)',
    )
