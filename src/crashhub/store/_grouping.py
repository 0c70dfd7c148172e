"""Versioned grouping: the keys that lead to each bucket, the users' grouping rules, and re-keys
with their ledger.

Bucket keys are versioned (``crashhub.classify._signature.RECIPES``).  Every (algorithm, key) a
bucket took stays an alias of it, so a key, a URL or a KB link from before a re-key still finds the
bucket that took its crashes over.  A user's merge or split is a rule
(``crashhub.classify._rules``) that ingest applies to every later crash and a re-key re-applies.
A re-key (``crashhub.jobs._rekey``) reads the crashes (``rekey_crashes``) and the state
(``rekey_state``), plans (``crashhub.classify._rekey.plan``) and applies the plan here
(``apply_rekey``), writing the ledger (``ledger``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping

from crashhub.classify import GroupingRule, Plan
from crashhub.store._grouping_records import BucketAlias, RekeyCrash, RekeyEntry, RekeyOutcome, RekeyState


class Grouping(abc.ABC):
    """One transaction per method."""

    @abc.abstractmethod
    def resolve(self, ref: str) -> str | None:
        """The live bucket a bucket id (merged or retired ones too) or a key of any algorithm leads to."""

    @abc.abstractmethod
    def aliases(self, bucket_id: str) -> list[BucketAlias]:
        """Every (algorithm, key) that leads to the bucket: its own and those it took over."""

    @abc.abstractmethod
    def rules(self, *, bucket: str | None = None, include_retired: bool = False) -> list[GroupingRule]:
        """Grouping rules, oldest first; with ``bucket``, those whose source or target it is."""

    @abc.abstractmethod
    def delete_rule(self, rule_id: str, actor: str) -> GroupingRule:
        """End a rule (its row stays, retired) and undo what it did: a merge rule's key goes back to
        its own bucket with its crashes; a split rule's crashes go back to its source bucket.
        Recorded as bucket events (action ``rule-delete``)."""

    @abc.abstractmethod
    def ledger(
        self, *, bucket: str | None = None, run: str | None = None, limit: int = 1000
    ) -> list[RekeyEntry]:
        """Re-key ledger rows, newest first; with ``bucket``, those from or to it."""

    @abc.abstractmethod
    def algorithms(self) -> dict[str, int]:
        """How many live buckets holding crashes each signature algorithm keys."""

    @abc.abstractmethod
    def rekey_crashes(self, *, after: str = "", limit: int = 1000) -> list[RekeyCrash]:
        """A page of crashes by id (those after ``after``), with what a re-key reads of each."""

    @abc.abstractmethod
    def rekey_state(self) -> RekeyState:
        """Every bucket, live rule and key alias, as a re-key plans against them."""

    @abc.abstractmethod
    def apply_rekey(
        self, plan: Plan, new_keys: Mapping[str, str], *, run: str, actor: str
    ) -> RekeyOutcome:
        """Apply a plan in one transaction: new buckets (with their heir's workflow state), crashes
        moved and given their new keys (``new_keys``: crash id -> key under ``plan.algorithm``),
        surviving buckets re-keyed, emptied ones retired into the bucket that took their crashes
        (which keeps its own workflow state and takes what it lacks: owner, advice, a status past
        ``new``, KB matches), aliases and rules recorded, buckets counted again, ledger written."""
