"""Counts of sign-in outcomes, for the gateway's anomaly detector to read (no credentials)."""

from collections import Counter


class AuthEventCounter:
    """Totals per (stage, outcome) and failures per client address since start."""

    def __init__(self, *, max_addresses: int = 100_000) -> None:
        self.totals: Counter[tuple[str, str]] = Counter()
        self.failures_by_address: Counter[str] = Counter()
        self._max_addresses = max_addresses

    def record(self, event: str, outcome: str, *, address: str | None) -> None:
        self.totals[event, outcome] += 1
        if outcome != "success" and address is not None:
            if len(self.failures_by_address) >= self._max_addresses:
                self.failures_by_address = Counter(
                    dict(self.failures_by_address.most_common(self._max_addresses // 2))
                )
            self.failures_by_address[address] += 1
