"""Brute-force protection: Keycloak's algorithm, for accounts and for client addresses.

After `failure_factor` failures the key is locked out for `wait_increment` times the number
of completed factors, capped at `max_wait`; two failures closer than `quick_login_check`
lock it for at least `min_quick_wait`; failures are forgotten after `failure_reset`.
All times are in nanoseconds.
"""

from dataclasses import dataclass

NANOSECONDS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    failure_factor: int
    wait_increment: int
    max_wait: int
    quick_login_check: int
    min_quick_wait: int
    failure_reset: int


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int = 0
    last_failure: int = 0
    locked_until: int = 0

    def locked(self, now: int) -> bool:
        return now < self.locked_until

    def retry_after(self, now: int) -> int:
        """Seconds until the lockout ends (0 when not locked)."""
        return max(0, -(-(self.locked_until - now) // NANOSECONDS))


def current(state: ThrottleState, policy: ThrottlePolicy, now: int) -> ThrottleState:
    """The state as it stands at `now`: old failures forgotten once the reset time passed."""
    if state.failures and now - state.last_failure >= policy.failure_reset:
        return ThrottleState()
    return state


def record_failure(state: ThrottleState, policy: ThrottlePolicy, now: int) -> ThrottleState:
    state = current(state, policy, now)
    failures = state.failures + 1
    wait = 0
    if failures >= policy.failure_factor:
        wait = policy.wait_increment * (failures // policy.failure_factor)
    if state.failures and now - state.last_failure < policy.quick_login_check:
        wait = max(wait, policy.min_quick_wait)
    wait = min(wait, policy.max_wait)
    locked_until = max(state.locked_until, now + wait) if wait else state.locked_until
    return ThrottleState(failures, now, locked_until)
