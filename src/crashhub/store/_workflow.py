"""The response workflow's vocabulary, shared by the store, the API, the UI and the alert rules.

Kernel teams answer a new bucket in steps: look at the log, answer from the knowledge base when
the bug is known, otherwise give advice within an agreed time, then dig deeper and write the KB
entry.  A bucket's ``status`` records where it is; ``advice_deadline`` is when the first advice
is due (first seen + ``first_advice_hours``).
"""

from __future__ import annotations

from collections.abc import Iterable

from crashhub.errors import InputError
from crashhub.model import JsonObject

STATUSES = ("new", "investigating", "advice_given", "known_issue", "fixed")
KB_STATUSES = ("known", "new", "regression")


def normalize_status(value: str) -> str:
    """``"advice given"``, ``"Advice-Given"`` and ``"advice_given"`` are one status; others refused."""
    s = value.strip().lower().replace(" ", "_").replace("-", "_")
    if s not in STATUSES:
        raise InputError(f"unknown bucket status {value!r} (one of {', '.join(STATUSES)})", "status")
    return s


def kb_status(matches: Iterable[JsonObject]) -> str:
    """``regression`` (a match past its ``fixed_in``), ``known`` (a specific entry), else ``new``:
    a generic starter entry explains the kind, not this bug."""
    ms = list(matches)
    if any(m.get("regression") for m in ms):
        return "regression"
    if any(not m.get("generic") for m in ms):
        return "known"
    return "new"


def effective_status(status: str | None, matches: Iterable[JsonObject]) -> str:
    """The stored status, or for a bucket from before the workflow existed, one derived from the KB."""
    if status:
        return status
    return "known_issue" if kb_status(matches) == "known" else "new"


def is_overdue(status: str | None, matches: Iterable[JsonObject], deadline: float, now: float) -> bool:
    """A bucket nobody has answered yet (still ``new``) past its first-advice deadline."""
    return effective_status(status, matches) == "new" and now > deadline
