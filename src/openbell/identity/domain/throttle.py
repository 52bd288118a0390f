"""Brute-force protection: failures counted over a window, for accounts and for addresses.

A key (an account, an account at one address, an address) collects failures in a window
that opens with its first failure and lasts `window`. Reaching `failure_factor` failures
locks the key for `wait_increment`, and every later failure in the window locks it again
for `wait_increment` times the number of completed factors, capped at `max_wait`
(Keycloak's escalation). There is deliberately no "quick succession" rule: two failures
in a second are what a user behind a shared address mistyping looks like, and locking a
whole address for them turned one typo into a sign-in outage for everyone behind it.
All times are in nanoseconds.
"""

from dataclasses import dataclass

NANOSECONDS = 1_000_000_000


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    failure_factor: int
    wait_increment: int
    max_wait: int
    window: int

    @property
    def retention(self) -> int:
        """How long a stored state can still matter: a window plus the longest lockout."""
        return self.window + self.max_wait


@dataclass(frozen=True, slots=True)
class ThrottleState:
    failures: int = 0
    window_start: int = 0
    locked_until: int = 0

    def locked(self, now: int) -> bool:
        return now < self.locked_until

    def retry_after(self, now: int) -> int:
        """Seconds until the lockout ends (0 when not locked)."""
        return max(0, -(-(self.locked_until - now) // NANOSECONDS))


def current(state: ThrottleState, policy: ThrottlePolicy, now: int) -> ThrottleState:
    """The state as it stands at `now`: a lapsed window's failures no longer count."""
    lapsed = now - state.window_start >= policy.window
    if state.failures and lapsed and not state.locked(now):
        return ThrottleState()
    return state


def record_failure(state: ThrottleState, policy: ThrottlePolicy, now: int) -> ThrottleState:
    state = current(state, policy, now)
    failures = state.failures + 1
    window_start = state.window_start if state.failures else now
    if failures < policy.failure_factor:
        return ThrottleState(failures, window_start, state.locked_until)
    wait = min(policy.wait_increment * (failures // policy.failure_factor), policy.max_wait)
    return ThrottleState(failures, window_start, max(state.locked_until, now + wait))
