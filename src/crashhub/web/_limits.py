"""Rate limits of the hub (login attempts, crash uploads), counted in the store so that every hub node
behind a load balancer counts into the same windows (issue 9).

A limit *fails open*: when the database cannot count a hit, the request is let through and the
failure logged.  The limits guard against password guessing and runaway agents; a database outage
that also stopped every login and every crash upload would turn a degraded hub into a dead one, and
the uploads then lost are the crashes the outage may be about.  Ingest and login need the database
anyway, so they fail on their own terms if it is really gone.
"""

from __future__ import annotations

import hashlib
import logging
import math
import threading
import time

from crashhub.store import Store

log = logging.getLogger("crashhub.web._limits")

# The store's keys are at most 255 characters; a user name or address from a request is bounded
# here (a long one becomes its hash) so a client cannot make the store refuse the key.
_MAX_PART = 128


def key_part(value: str) -> str:
    if len(value) <= _MAX_PART and value.isprintable():
        return value
    return "sha256:" + hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()


def backoff(failures: int, free: int, cap: float) -> float:
    """Seconds to hold an attempt after ``failures`` recent failures: none for the first ``free``,
    then 1, 2, 4 … up to ``cap``.  A delay instead of a refusal: guessing slows down, while the
    account's owner still gets in with the right password (no lock-out by someone else's guesses)."""
    if free <= 0 or failures < free:
        return 0.0
    return float(min(cap, 2.0 ** min(failures - free, 30)))


def retry_after(wait: float) -> int:
    """Seconds for a ``Retry-After`` header: whole, at least 1."""
    return max(1, math.ceil(wait))


class Limit:
    """``limit`` hits per ``window`` seconds for each key (``limit`` or ``window`` 0: no limit)."""

    def __init__(self, store: Store, name: str, limit: int, window: float) -> None:
        self.store, self.name = store, name
        self.limit, self.window = int(limit), float(window)
        self._warned = 0.0
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.limit > 0 and self.window > 0

    def hit(self, key: str) -> float | None:
        """Count one hit of ``key``: None when it is allowed, else seconds until it may try again."""
        if not self.enabled:
            return None
        try:
            return self.store.access.rate_hit(f"{self.name}:{key_part(key)}", self.window, self.limit)
        except Exception as e:  # fail open, see the module's docstring
            self._warn(e)
            return None

    def count(self, key: str) -> int:
        """Hits of ``key`` so far in the current window (0 when the store cannot say: fail open)."""
        if not self.enabled:
            return 0
        try:
            return self.store.access.rate_count(f"{self.name}:{key_part(key)}", self.window)
        except Exception as e:  # fail open, see the module's docstring
            self._warn(e)
            return 0

    def take_back(self, key: str) -> None:
        """Undo one hit of ``key`` in the current window (a login that turned out right)."""
        if not self.enabled:
            return
        try:
            self.store.access.rate_hit(f"{self.name}:{key_part(key)}", self.window, self.limit, cost=-1)
        except Exception as e:  # fail open, see the module's docstring
            self._warn(e)

    def _warn(self, e: Exception) -> None:
        # One line a minute: an outage would otherwise log once per request.
        with self._lock:
            t = time.monotonic()
            if t - self._warned < 60 and self._warned:
                return
            self._warned = t
        name = type(e).__name__
        log.warning("rate limit %s not counted, request allowed (fail open): %s: %s", self.name, name, e)
