"""Revocation: refuse tokens before they expire, in every process within a second.

Each process checks tokens against a local dict (a few lookups, no I/O on the request
path). Revocations made here apply at once; those made elsewhere (another process, the
CLI) arrive through the shared store, which a background task polls.
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Iterable

from openbell.identity.application.ports import RevocationStore
from openbell.identity.domain.revocation import NANOSECONDS, Revocation, refuses, revocation_key
from openbell.shared.time import Clock

logger = logging.getLogger("openbell.identity")


class RevocationService:
    def __init__(
        self,
        store: RevocationStore,
        clock: Clock,
        *,
        retention_seconds: int,
        leeway_seconds: int,
        poll_interval_seconds: float,
    ) -> None:
        """`retention_seconds`: the longest an access token lives; `leeway_seconds`: how long
        past its `exp` the verifier still accepts one (the clock skew it tolerates)."""
        self._store = store
        self._clock = clock
        self._retention = retention_seconds * NANOSECONDS
        self._leeway = leeway_seconds * NANOSECONDS
        self._poll_interval = poll_interval_seconds
        self._revoked: dict[str, Revocation] = {}
        self._cursor = 0
        self._task: asyncio.Task[None] | None = None
        self.last_sync_ns: int | None = None
        self._synced_at: float | None = None

    def _now(self) -> int:
        return self._clock.now_ns()

    async def revoke(self, kind: str, value: str, *, expires_at: int | None = None) -> None:
        """Refuse every token carrying this key issued up to now (to the nanosecond).

        `expires_at` (seconds, a token's `exp`) is when the last such token expires; by
        default the longest an access token can live from now. The revocation is kept the
        verifier's leeway longer, since the verifier accepts a token that long past `exp`.
        """
        now = self._now()
        last_expiry = now + self._retention if expires_at is None else expires_at * NANOSECONDS
        until = last_expiry + self._leeway
        entry = Revocation(revocation_key(kind, value), now, until)
        self._apply([entry])
        await self._store.add(entry)

    def refused(self, keys: Iterable[str], issued_at: int) -> bool:
        """Whether a token issued at `issued_at` (nanoseconds) carries a revoked key."""
        revoked = self._revoked
        for key in keys:
            entry = revoked.get(key)
            if entry is not None and refuses(entry, issued_at):
                return True
        return False

    async def sync(self) -> None:
        """Fetch what other processes revoked since the last call; drop what expired."""
        now = self._now()
        entries, self._cursor = await self._store.changes(self._cursor, now)
        self._apply(entries)
        if len(self._revoked) > 1024 or entries:
            self._revoked = {k: e for k, e in self._revoked.items() if e.expires_at > now}
        self.last_sync_ns = self._clock.now_ns()
        self._synced_at = time.monotonic()

    def fresh(self, within_seconds: float) -> bool:
        """Whether revocations made elsewhere were fetched lately: if not, tokens revoked
        by another process might still pass here, so the process should not take traffic."""
        synced = self._synced_at
        return synced is not None and time.monotonic() - synced <= within_seconds

    def _apply(self, entries: Iterable[Revocation]) -> None:
        for entry in entries:
            known = self._revoked.get(entry.key)
            if known is None or known.revoked_at < entry.revoked_at:
                self._revoked[entry.key] = entry

    async def start(self) -> None:
        await self.sync()
        self._task = asyncio.create_task(self._poll(), name="identity-revocation-sync")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _poll(self) -> None:
        while True:
            await asyncio.sleep(self._poll_interval)
            try:
                await self.sync()
            except Exception:  # a dependency hiccup must not end revocation for good
                logger.exception("revocation sync failed; retrying")
