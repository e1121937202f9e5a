"""One live process per instance name, with REDIS_URL.

A process's name (`INSTANCE`, HOST:PORT unless set) says where its tabs are: two live processes under one name
would each take the other's tabs for their own, and each claim the other's as left over by its last run. The
default collides easily (two containers, each on 0.0.0.0:8080). So a process holds its name by its heartbeat
`vc:instance:<name>` (a token of this run, lasting HEARTBEAT_S, renewed every second), and at start-up takes the
name only if no live process holds it:

- nobody holds it, or its holder stopped (a graceful stop gives the name back): it is taken at once;
- its holder died (kill -9, a crash): its heartbeat runs out within HEARTBEAT_S, which a restart waits for;
- its holder is alive (its heartbeat is renewed all along): start-up is refused (voiceconnect/startup.py).

From the moment the name is taken until the hub beats (the app still imports and starts) a thread keeps the
heartbeat alive, so two processes started together under one name cannot both take it.
"""

import contextlib
import secrets
import threading
import time
from dataclasses import dataclass

import redis
from redis.asyncio import Redis as AsyncRedis

from . import keys

HEARTBEAT_S = 3.0
KEEP_EVERY_S = 1.0
TRY_EVERY_S = 0.1
# only the holder's token renews or gives back a name
KEEP = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end return 0"
RELEASE = "if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end return 0"


@dataclass
class _Claim:
    token: str
    handed_over: threading.Event


_claims: dict[str, _Claim] = {}  # the names this process took at start-up


def take(url: str, name: str, timeout_s: float, wait_s: float = HEARTBEAT_S + 0.5) -> bool:
    """Take `name` for this process, waiting up to `wait_s` for a dead holder's heartbeat to run out; False if a
    live process holds it. Raises redis.RedisError if Redis does not answer."""
    client = redis.Redis.from_url(url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s)
    token = secrets.token_hex(8)
    give_up = time.monotonic() + wait_s
    try:
        while not client.set(keys.instance(name), token, nx=True, px=int(HEARTBEAT_S * 1000)):
            if time.monotonic() > give_up:
                client.close()
                return False
            time.sleep(TRY_EVERY_S)
    except redis.RedisError:
        client.close()
        raise
    claim = _claims[name] = _Claim(token, threading.Event())
    threading.Thread(target=_keep, args=(client, name, claim), name=f'heartbeat of {name}', daemon=True).start()
    return True


def _keep(client: 'redis.Redis', name: str, claim: _Claim) -> None:
    """The heartbeat while the app starts, until the hub beats (`hand_over`)."""
    with client:
        while not claim.handed_over.wait(KEEP_EVERY_S):
            with contextlib.suppress(redis.RedisError):
                client.eval(KEEP, 1, keys.instance(name), claim.token, int(HEARTBEAT_S * 1000))


def token_of(name: str) -> str:
    """What this run's heartbeat for `name` holds: the token taken at start-up, else a new one (a hub made
    without start-up's checks, as in the core's tests)."""
    claim = _claims.get(name)
    return claim.token if claim is not None else secrets.token_hex(8)


def hand_over(name: str) -> None:
    """The hub beats from now on: the start-up thread stops."""
    if (claim := _claims.get(name)) is not None:
        claim.handed_over.set()


async def release(client: AsyncRedis, name: str, token: str) -> None:
    """A graceful stop gives the name back, so a restart takes it at once (only if this run still holds it)."""
    hand_over(name)
    await client.eval(RELEASE, 1, keys.instance(name), token)
