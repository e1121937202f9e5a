"""Redis clients whose connections are a fixed pool and whose every command has a deadline.

redis-py's default client opens a connection for every command running at that moment (its pool grows without
bound) and waits for an answer for ever: a burst of requests could open thousands of connections, and a hung
Redis (SIGSTOP, a frozen VM) stalled everything that touched it without anybody noticing. A client from `connect`
holds at most `pool_size` connections (a command waits up to `timeout_s` for a free one), and a command that gets
no answer within `timeout_s` raises redis.exceptions.TimeoutError (a RedisError) at once, never retried.
"""

from redis.asyncio import BlockingConnectionPool, Redis
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

OUTAGE = (RedisConnectionError, RedisTimeoutError, OSError)  # Redis gone, or not answering (not: it said no)


def connect(url: str, timeout_s: float, pool_size: int) -> Redis:
    pool = BlockingConnectionPool.from_url(
        url,
        max_connections=pool_size,
        timeout=timeout_s,  # for a free connection of the pool
        socket_timeout=timeout_s,  # for each answer
        socket_connect_timeout=timeout_s,
    )
    return Redis(connection_pool=pool)
