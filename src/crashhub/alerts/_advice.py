"""Advice to host owners: when a bucket gets advice, tell the owners of the hosts that crashed in it.

The response workflow (docs/ui.md) records every change of a bucket's status, owner or advice as a
``workflow`` bucket event.  ``AdviceNotifier.tick`` (run by ``AlertEngine.tick``) finds the events
that give advice -- status set to ``advice_given``, or the advice text changed -- and sends the
bucket's current advice once per (bucket, advice version, contact), where the version is a hash of
the text: re-saving the same words sends nothing, new words go out again.  Each owner gets one
message listing only their own hosts and those hosts' kernels.

State (in the store, ``store.cluster``, shared by every node): a cursor (events at or before
``cursor - LOOKBACK`` are old: a fresh hub does not send last month's advice), the keys sent (kept
for good, so a restart, a retry or another node never sends twice), the advice version finished
per bucket (so a tick skips it without reading its events), and the buckets whose deliveries
failed (retried on the next ticks, ``MAX_ATTEMPTS`` in all).
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable

from crashhub.alerts import _markup as markup
from crashhub.alerts._channels import Channel
from crashhub.alerts._engine import Dispatcher
from crashhub.alerts._owners import Contact, OwnerBook
from crashhub.alerts._records import DeliveryRecord
from crashhub.alerts._rules import Alert, RuleName
from crashhub.errors import ConfigError
from crashhub.store import BucketEvent, BucketRecord, Store

RULE: RuleName = "owner_advice"
PAGE = 500
MAX_CRASHES = 50_000  # crashes read per bucket to find its hosts: a fleet-wide bucket stays bounded
MAX_ATTEMPTS = 3
# Events this close before the cursor are looked at again: an event whose transaction committed
# after a later one was read is caught on the next tick; the permanent record of sent keys keeps
# that from sending twice.
LOOKBACK = 3600.0
MAX_HOSTS_SHOWN = 50


def advice_version(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def gives_advice(e: BucketEvent) -> bool:
    """A ``workflow`` event that changed the advice or set the status ``advice_given``."""
    if e.action != "workflow":
        return False
    st = e.detail.get("status")
    return "advice" in e.detail or (isinstance(st, list) and len(st) == 2 and st[1] == "advice_given")


_MD_RULES = [
    (re.compile(r"!?\[([^\]]*)\]\(([^)\s]*)\)"), r"\1 (\2)"),  # [text](url) -> text (url)
    (re.compile(r"^\s{0,3}#{1,6}\s*", re.M), ""),  # headings
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),  # bold
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"\1"),  # emphasis
    (re.compile(r"`{1,3}([^`]*)`{1,3}"), r"\1"),  # code spans
]


def markdown_to_text(md: str) -> str:
    """Advice Markdown as plain text for mail: markers dropped, links spelled out, lists and
    line breaks kept (Markdown was made to read as text; this removes what a mail reader shows raw)."""
    out = md
    for rx, rep in _MD_RULES:
        out = rx.sub(rep, out)
    return out


def bucket_path(bucket_id: str) -> str:
    return f"/ui/buckets/{bucket_id}"


def advice_alert(
    b: BucketRecord, advice: str, hosts: dict[str, set[str]], key: str, base_url: str | None
) -> Alert:
    """The message for one owner: ``hosts`` maps each of their hosts to its kernels in ``b``."""
    path = bucket_path(b.id)
    link = base_url.rstrip("/") + path if base_url else path
    names = sorted(hosts)
    kernels = sorted({k for h in names for k in hosts[h]})
    more = len(names) - MAX_HOSTS_SHOWN
    shown = [f"{h} ({', '.join(sorted(hosts[h])) or 'kernel unknown'})" for h in names[:MAX_HOSTS_SHOWN]]
    if more > 0:
        shown.append(f"and {more} more")
    head = f"Bucket {b.id} ({b.kind}): {b.title}"
    # The Markdown is the hub's and the advice an admin's; every value from a crashed host (title,
    # host names, kernels) goes in escaped, so the chat formats pass it as written (markdown=True).
    esc = markup.markdown
    md = "\n".join([
        f"**{esc(markup.one_line(head))}**", "",
        f"Your hosts that crashed in this bucket ({len(names)}):", *[f"- {esc(s)}" for s in shown], "",
        f"Kernels: {esc(', '.join(kernels)) or 'unknown'}", "",
        "**Advice**", "", advice, "",
        f"Bucket page: {link}",
    ])
    plain = "\n".join([
        head, "",
        f"Your hosts that crashed in this bucket ({len(names)}):", *[f"  - {s}" for s in shown], "",
        f"Kernels: {', '.join(kernels) or 'unknown'}", "",
        "Advice:", "", markdown_to_text(advice), "",
        f"Bucket page: {link}",
    ])
    return Alert(
        RULE, key, f"Advice for crash bucket: {b.title}", md, "info", link,
        {"bucket": b.id, "kind": b.kind, "title": b.title, "path": path, "advice": advice,
         "advice_version": key.split(":")[2], "hosts": {h: sorted(hosts[h]) for h in names},
         "kernels": kernels},
        plain=plain, markdown=True,
    )


def affected_hosts(store: Store, bucket_id: str) -> dict[str, set[str]]:
    """Every host with a crash in the bucket, with the kernels it crashed on there."""
    out: dict[str, set[str]] = {}
    offset = 0
    while offset < MAX_CRASHES:
        page = store.crashes.list_crashes(bucket=bucket_id, limit=PAGE, offset=offset)
        for c in page:
            ks = out.setdefault(c.host, set())
            if c.release:
                ks.add(c.release)
        if len(page) < PAGE:
            break
        offset += PAGE
    return out


CURSOR = "alerts.advice"  # the cursor and the buckets being retried, in ``store.cluster``


class AdviceNotifier:
    """Owner advice from the state every node shares (``store.cluster``): the cursor, the keys sent
    (``advice-sent:<key>``, kept for good) and the advice versions finished per bucket
    (``advice-done:<bucket>:<version>``).  Periodic: the hub runs it on the node holding the alert
    lease, so two nodes never work through the same advice at once."""

    def __init__(
        self,
        dispatcher: Dispatcher,
        book: OwnerBook,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.dispatcher = dispatcher
        self.cluster = dispatcher.cluster
        self.book = book
        self.clock = clock
        self._bad_config: str | None = None
        # First start of the hub (not of this node): advice given before owners were notified is
        # history, not news.  A second node finds the first one's cursor.
        self.cluster.init_cursor(CURSOR, {"cursor": clock(), "pending": {}})

    def _state(self) -> tuple[float, dict[str, int]]:
        d = self.cluster.get_cursor(CURSOR)
        d = d if isinstance(d, dict) else {}
        cursor = d.get("cursor")
        pending = d.get("pending")
        pending = pending if isinstance(pending, dict) else {}
        return (float(cursor) if isinstance(cursor, (int, float)) else self.clock(),
                {str(k): int(v) for k, v in pending.items() if isinstance(v, int)})

    def _sent(self, key: str) -> bool:
        return self.cluster.key_time(f"advice-sent:{key}") is not None

    def _mark_sent(self, key: str) -> None:
        self.cluster.claim_key(f"advice-sent:{key}", self.clock())

    def _smtp(self, name: str | None) -> Channel | None:
        for ch in self.dispatcher.config.channels:
            if ch.type == "smtp" and (name is None or ch.name == name):
                return ch
        return None

    def tick(self, store: Store) -> list[DeliveryRecord]:
        """Send the advice given since the last tick; returns the log records written."""
        try:
            owners = self.book.get()
        except ConfigError as e:
            # Nothing is sent and the cursor stays: once the file is fixed, the advice goes out.
            msg = str(e)
            if msg == self._bad_config:
                return []
            self._bad_config = msg
            return [self.dispatcher.log(
                DeliveryRecord(self.clock(), None, RULE, None, None, "config-error", error=msg)
            )]
        self._bad_config = None
        cursor, pending = self._state()
        newest = cursor
        out: list[DeliveryRecord] = []
        # Only buckets whose advice changed since the cursor (less the look-back), and those whose
        # delivery is being retried, can have something to send: read those, not every bucket.
        recent = store.buckets.bucket_events_since(cursor - LOOKBACK, action="workflow")
        ids = {e.bucket_id for e in recent if e.bucket_id and gives_advice(e)} | set(pending)
        for bucket_id in sorted(ids):
            b = store.buckets.get_bucket(bucket_id)
            retry = bucket_id in pending
            if b is None or not b.advice or b.merged_into or not b.count:
                # Bucket gone, merged into another or emptied by a split, or advice withdrawn: as
                # the bucket list leaves those out, nothing to send and nothing left to retry.
                pending.pop(bucket_id, None)
                continue
            ver = advice_version(b.advice)
            done = f"advice-done:{b.id}:{ver}"
            if not retry and self.cluster.key_time(done) is not None:
                continue
            evs = [e for e in store.buckets.bucket_events(b.id) if gives_advice(e)]
            newest = max([newest, *(e.at for e in evs)])
            if not retry and not any(e.at > cursor - LOOKBACK for e in evs):
                self.cluster.claim_key(done, self.clock())  # given before the cursor: history, never sent
                continue
            failed, recs = self._send(store, b, ver, owners.contacts_of, self._smtp(owners.smtp))
            out += recs
            if failed and pending.get(b.id, 0) + 1 < MAX_ATTEMPTS:
                pending[b.id] = pending.get(b.id, 0) + 1
            else:
                pending.pop(b.id, None)
                self.cluster.claim_key(done, self.clock())
        self.cluster.set_cursor(CURSOR, {"cursor": newest, "pending": pending})
        return out

    def _send(
        self,
        store: Store,
        b: BucketRecord,
        ver: str,
        contacts_of: Callable[[str], list[Contact]],
        smtp: Channel | None,
    ) -> tuple[int, list[DeliveryRecord]]:
        """Deliver one bucket's advice to each owner not yet sent it; (failures, log records)."""
        advice = b.advice or ""
        base = f"advice:{b.id}:{ver}"
        hosts = affected_hosts(store, b.id)
        groups: dict[str, tuple[Contact, dict[str, set[str]]]] = {}
        orphans: list[str] = []
        for h, ks in hosts.items():
            cs = contacts_of(h)
            if not cs:
                orphans.append(h)
            for c in cs:
                groups.setdefault(c.id, (c, {}))[1][h] = ks
        out: list[DeliveryRecord] = []
        if orphans and not self._sent(f"{base}:no-owner"):
            out.append(self.dispatcher.log(DeliveryRecord(
                self.clock(), None, RULE, base, b.title, "no-owner",
                hosts=tuple(sorted(orphans)[:MAX_HOSTS_SHOWN]), host_count=len(orphans),
            )))
            self._mark_sent(f"{base}:no-owner")
        failed = 0
        for cid, (contact, mine) in sorted(groups.items()):
            key = f"{base}:{cid}"
            if self._sent(key):
                continue
            alert = advice_alert(b, advice, mine, key, self.dispatcher.config.base_url)
            ch = contact.channel(smtp)
            if ch is None:
                rec = self.dispatcher.log(DeliveryRecord(
                    self.clock(), contact.label, RULE, key, alert.title, "failed", hosts=tuple(sorted(mine)),
                    error="no SMTP channel in alerts.toml to send mail to owners with",
                ))
            else:
                rec = self.dispatcher.send_one(alert, ch, sorted(mine))
            out.append(rec)
            if rec.ok:
                self._mark_sent(key)
            else:
                failed += 1
        return failed, out
