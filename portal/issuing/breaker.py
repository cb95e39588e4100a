"""A circuit breaker per agency registry, shared by every call in this process.

When an agency's registry keeps failing (unreachable, timing out, answering 5xx), calling it
again only adds load to a system that is already struggling and makes each person's request sit
through the full timeout and retry budget. After ``failure_threshold`` consecutive transient
failures the breaker *opens*: calls fail at once, without touching the network, for
``cooldown`` seconds. Then it lets exactly one trial call through (*half-open*); the trial's
outcome closes the breaker again or re-opens it for another cool-down.

Why not pybreaker (1.4.1, the best-kept library for this): it holds one lock for the whole
duration of the guarded call, which would serialise every request to an agency in a process
behind the slowest one, and its cool-down reads ``datetime.now`` directly, so tests could only
move time by patching the library. This class is small, holds its lock only to change state, and
reads the portal's clock (``portal.clock.now``, which tests fake) or one that is passed in.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import datetime

from portal import clock as portal_clock

__all__ = ["CircuitBreaker", "breaker_for", "reset_breakers"]

CLOSED = "closed"
OPEN = "open"
HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive transient failures of one registry and stops calls while it is down.

    Usage per call: ``acquire()`` (False: do not call), then exactly one of ``record_success()``
    (the registry answered, whatever it said), ``record_failure()`` (transient failure) or
    ``release()`` (no verdict, e.g. an unexpected error in our own code).
    Safe to share between threads.
    """

    def __init__(
        self,
        name: str,
        *,
        failure_threshold: int = 5,
        cooldown: float = 30.0,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if failure_threshold < 1:
            raise ValueError("failure_threshold must be at least 1")
        if cooldown < 0:
            raise ValueError("cooldown must not be negative")
        #: For logs only (an agency id).
        self.name = name
        self.failure_threshold = failure_threshold
        #: Seconds the breaker stays open before one trial call.
        self.cooldown = cooldown
        # Looked up on every use, so that a test's monkeypatched portal.clock.now applies.
        self._clock = clock or (lambda: portal_clock.now())
        self._lock = threading.Lock()
        self._state = CLOSED
        self._failures = 0
        self._opened_at: datetime | None = None
        self._trial_in_flight = False

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` (an open breaker past its cool-down reads ``half_open``)."""
        with self._lock:
            if self._state == OPEN and self._cooled_down():
                return HALF_OPEN
            return self._state

    def seconds_until_trial(self) -> float:
        """How long an open breaker still refuses calls (0 when it would let one through)."""
        with self._lock:
            if self._state != OPEN or self._opened_at is None:
                return 0.0
            elapsed = (self._clock() - self._opened_at).total_seconds()
            return max(0.0, self.cooldown - elapsed)

    def acquire(self) -> bool:
        """May a call go out now? In half-open state only one caller gets True until it reports."""
        with self._lock:
            if self._state == CLOSED:
                return True
            if self._state == OPEN:
                if not self._cooled_down():
                    return False
                self._state = HALF_OPEN
            if self._trial_in_flight:
                return False
            self._trial_in_flight = True
            return True

    def record_success(self) -> None:
        """The registry answered: close the breaker and forget earlier failures."""
        with self._lock:
            self._state = CLOSED
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False

    def record_failure(self) -> None:
        """A transient failure: count it; open at the threshold, or re-open after a failed trial."""
        with self._lock:
            if self._state == HALF_OPEN:
                self._open()
            elif self._state == CLOSED:
                self._failures += 1
                if self._failures >= self.failure_threshold:
                    self._open()
            # Already open: a call that started before it opened adds nothing.

    def release(self) -> None:
        """A call ended without a verdict on the registry's health: free the trial slot."""
        with self._lock:
            self._trial_in_flight = False

    def _open(self) -> None:
        self._state = OPEN
        self._opened_at = self._clock()
        self._trial_in_flight = False

    def _cooled_down(self) -> bool:
        assert self._opened_at is not None
        return (self._clock() - self._opened_at).total_seconds() >= self.cooldown


_breakers: dict[tuple[str, str], CircuitBreaker] = {}
_breakers_lock = threading.Lock()


def breaker_for(
    agency_id: str, registry_url: str, *, failure_threshold: int, cooldown: float
) -> CircuitBreaker:
    """The process-wide breaker for one agency's registry (created on first use).

    Keyed by agency *and* registry address: the breaker judges an endpoint, and an operator who
    points the agency at another address should not inherit the old one's open breaker.
    Changed thresholds apply to the existing breaker without resetting its state.
    """
    key = (agency_id, registry_url)
    with _breakers_lock:
        breaker = _breakers.get(key)
        if breaker is None:
            breaker = _breakers[key] = CircuitBreaker(
                agency_id, failure_threshold=failure_threshold, cooldown=cooldown
            )
        else:
            breaker.failure_threshold = failure_threshold
            breaker.cooldown = cooldown
        return breaker


def reset_breakers() -> None:
    """Forget every breaker (tests; an operator's reload)."""
    with _breakers_lock:
        _breakers.clear()
