"""Redis storage for what several processes must share at once: revocations and lockouts."""

import asyncio
import json
import random
from collections.abc import Callable, Sequence
from typing import cast

from redis.asyncio import Redis
from redis.exceptions import WatchError

from openbell.identity.domain.revocation import NANOSECONDS, Revocation
from openbell.identity.domain.throttle import ThrottleState

# One atomic step: drop what lapsed, number the revocation, index it by number and expiry.
_ADD_REVOCATION = """
local expired = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
for _, member in ipairs(expired) do redis.call('ZREM', KEYS[2], member) end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', ARGV[3])
local seq = redis.call('INCR', KEYS[1])
redis.call('ZADD', KEYS[2], seq, ARGV[1])
redis.call('ZADD', KEYS[3], ARGV[2], ARGV[1])
return seq
"""
_MAX_RETRIES = 64


class RedisRevocationStore:
    """Revocations as a numbered log (a sorted set scored by sequence), pruned by expiry."""

    def __init__(self, redis: Redis, *, prefix: str = "openbell:identity:") -> None:
        self._redis = redis
        self._seq = prefix + "revocations:seq"
        self._log = prefix + "revocations:log"
        self._expiry = prefix + "revocations:expiry"
        self._script = redis.register_script(_ADD_REVOCATION)

    async def add(self, revocation: Revocation) -> None:
        member = json.dumps([revocation.key, revocation.revoked_at, revocation.expires_at])
        await self._script(
            keys=[self._seq, self._log, self._expiry],
            args=[member, revocation.expires_at, revocation.revoked_at - 60 * NANOSECONDS],
        )

    async def changes(self, cursor: int, now: int) -> tuple[Sequence[Revocation], int]:
        rows = await self._redis.zrangebyscore(self._log, f"({cursor}", "+inf", withscores=True)
        entries = []
        for row in rows:
            member, score = cast("tuple[bytes, float]", row)
            key, revoked_at, expires_at = json.loads(member)
            cursor = max(cursor, int(score))
            if expires_at > now:
                entries.append(Revocation(str(key), int(revoked_at), int(expires_at)))
        return entries, cursor


class RedisThrottleStore:
    """Failure counters shared by every process; updated optimistically with WATCH/MULTI."""

    def __init__(self, redis: Redis, *, prefix: str = "openbell:identity:throttle:") -> None:
        self._redis = redis
        self._prefix = prefix

    async def get(self, key: str) -> ThrottleState:
        return _decode(await self._redis.get(self._prefix + key))

    async def update(
        self, key: str, change: Callable[[ThrottleState], ThrottleState], ttl_seconds: int
    ) -> ThrottleState:
        name = self._prefix + key
        async with self._redis.pipeline(transaction=True) as pipe:
            for attempt in range(_MAX_RETRIES):
                try:
                    await pipe.watch(name)
                    state = change(_decode(await pipe.get(name)))
                    pipe.multi()  # type: ignore[no-untyped-call]
                    pipe.set(name, _encode(state), ex=max(1, ttl_seconds))
                    await pipe.execute()
                except WatchError:
                    # Many workers hammering one account collide; back off with jitter.
                    ceiling = min(0.05, 0.0005 * 2**attempt)
                    await asyncio.sleep(random.uniform(0, ceiling))  # noqa: S311  # nosec B311
                    continue
                return state
        raise RuntimeError("throttle update kept conflicting")

    async def reset(self, key: str) -> None:
        await self._redis.delete(self._prefix + key)


def _encode(state: ThrottleState) -> str:
    return json.dumps([state.failures, state.window_start, state.locked_until])


def _decode(raw: bytes | str | None) -> ThrottleState:
    if raw is None:
        return ThrottleState()
    failures, window_start, locked_until = json.loads(raw)
    return ThrottleState(int(failures), int(window_start), int(locked_until))
