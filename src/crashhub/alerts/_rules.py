"""Alert rules: pure functions from what the hub knows to the alerts it should raise.

Seven rules (issue 6): a new bucket, a first advice overdue, a spike, a bucket regressed past a KB
entry's ``fixed_in`` (by a new crash or by a KB edit; once per bucket and bound), a knowledge-base
hit, a kernel that crashes with no debuginfo to analyse it, and (issue 20) a kernel in the fleet
that no kernel check has tried (``crashhub kernel check``; once per kernel).
Each alert carries a ``key`` that names the condition, not the moment (``new-bucket:<id>``,
``spike:<id>:<day>``): the dispatcher sends a key once per dedup window however often a rule sees it.
"""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args

from crashhub.model import JsonObject
from crashhub.store import BucketRecord, CrashRecord, KernelRecord, day_of, is_overdue

RuleName = Literal["new_bucket", "overdue_advice", "spike", "regression", "kb_hit", "no_debuginfo",
                   "no_readiness", "owner_advice"]
Severity = Literal["info", "warning", "critical"]
# The rules a channel may subscribe to (``owner_advice`` goes to the owners' own contacts).
RULES: tuple[RuleName, ...] = (
    "new_bucket", "overdue_advice", "spike", "regression", "kb_hit", "no_debuginfo", "no_readiness"
)
ALL_RULES: tuple[RuleName, ...] = get_args(RuleName)
SEVERITIES: tuple[Severity, ...] = get_args(Severity)


@dataclass(frozen=True, slots=True)
class Alert:
    rule: RuleName
    key: str
    title: str
    text: str
    severity: Severity = "warning"
    link: str | None = None
    data: JsonObject = field(default_factory=dict)
    # ``plain``, when set, is what mail, Slack and Feishu's text message carry instead of ``text``
    # (the owner advice has Markdown structure a mail reader shows raw).
    plain: str | None = None
    # Whether ``text`` is Markdown made by the hub with its crash values escaped (markup.markdown);
    # otherwise it is text, and every chat format escapes all of it.
    markdown: bool = False
    # Sent once ever, not once per dedup window: the key names a transition (a bucket becoming
    # regressed on an entry's fixed_in), claimed for good in the store so no node sends it again.
    once: bool = False

    def wire(self) -> JsonObject:
        """The alert in the ``json`` webhook's body (a receiver's contract: these keys only)."""
        return {
            "rule": self.rule,
            "key": self.key,
            "title": self.title,
            "text": self.text,
            "severity": self.severity,
            "link": self.link,
            "data": self.data,
        }

    def to_dict(self) -> JsonObject:
        return {**self.wire(), "plain": self.plain, "markdown": self.markdown, "once": self.once}

    @classmethod
    def from_dict(cls, d: JsonObject) -> Alert:
        """An alert from :meth:`to_dict` (or a webhook's :meth:`wire` body); a rule or severity
        outside the closed sets is refused."""
        rule, sev = d.get("rule"), d.get("severity", "warning")
        if rule not in ALL_RULES:
            raise ValueError(f"unknown alert rule {rule!r}")
        if sev not in SEVERITIES:
            raise ValueError(f"unknown alert severity {sev!r}")
        link, plain = d.get("link"), d.get("plain")
        return cls(
            rule=rule, key=str(d["key"]), title=str(d["title"]), text=str(d["text"]), severity=sev,
            link=None if link is None else str(link), data=dict(d.get("data") or {}),
            plain=None if plain is None else str(plain), markdown=bool(d.get("markdown", False)),
            once=bool(d.get("once", False)),
        )


def _link(base: str | None, path: str) -> str | None:
    return base.rstrip("/") + path if base else None


def _specific(kb: Sequence[JsonObject]) -> list[JsonObject]:
    return [m for m in kb if not m.get("generic")]


def on_crash(
    crash: CrashRecord,
    bucket: BucketRecord,
    created: bool,
    *,
    base_url: str | None = None,
) -> list[Alert]:
    """Alerts for one stored crash (``created``: it was new, not a re-sent copy)."""
    if not created:
        return []
    out: list[Alert] = []
    where = f"{crash.host} ({crash.release or '?'})"
    blink = _link(base_url, f"/ui/buckets/{bucket.id}")
    if bucket.count <= 1:
        out.append(Alert(
            "new_bucket", f"new-bucket:{bucket.id}", f"New crash bucket: {bucket.title}",
            f"A crash never seen before ({bucket.kind}) on {where}.", "warning", blink,
            {"bucket": bucket.id, "crash": crash.id, "kind": bucket.kind},
        ))
    out += regressed(bucket, base_url, crash=crash)
    spec = [x for x in _specific(crash.kb) if not x.get("regression")]
    if spec:
        m = dict(spec[0])
        out.append(Alert(
            "kb_hit", f"kb-hit:{bucket.id}:{m.get('id') or m.get('entry_id')}",
            f"Known issue hit: {m.get('title')}",
            f"{where} crashed with a known issue ({m.get('id') or m.get('entry_id')}); "
            "the KB has the advice.",
            "info", blink, {"bucket": bucket.id, "crash": crash.id, "entry": m.get("id")},
        ))
    if bucket.spike:
        out.append(spike(bucket, day_of(crash.received_at), base_url))
    return out


def regressed(bucket: BucketRecord, base_url: str | None = None, *,
              crash: CrashRecord | None = None) -> list[Alert]:
    """A bucket regressed on a KB entry (any of its crashes ran a kernel at or past the entry's
    ``fixed_in``), from the bucket's current matches: raised by the crash that showed it, or by the
    tick after a KB edit did.  One alert per bucket, entry and bound, ever (``once``)."""
    out = []
    for m in bucket.kb:
        if not m.get("regression"):
            continue
        eid = m.get("id") or m.get("entry_id")
        how = m.get("comparison") or f"{m.get('fixed_in')}"
        data: JsonObject = {"bucket": bucket.id, "entry": eid, "fixed_in": m.get("fixed_in"),
                            "comparison": m.get("comparison")}
        if crash is not None:
            data["crash"] = crash.id
        out.append(Alert(
            "regression", f"regressed:{bucket.id}:{eid}:{m.get('fixed_in')}", f"Regressed: {m.get('title')}",
            f"Bucket {bucket.id} ({bucket.title}) crashed on a kernel the KB entry {eid} says is fixed: "
            f"{how}.", "critical", _link(base_url, f"/ui/buckets/{bucket.id}"), data, once=True,
        ))
    return out


def spike(bucket: BucketRecord, day: str, base_url: str | None = None) -> Alert:
    today = bucket.days.get(day, 0)
    return Alert(
        "spike", f"spike:{bucket.id}:{day}", f"Crash spike: {bucket.title}",
        f"{today} crashes today, against a trailing median trend of +{bucket.trend:g}.",
        "critical", _link(base_url, f"/ui/buckets/{bucket.id}"), {"bucket": bucket.id, "today": today},
    )


def periodic(
    buckets: Iterable[BucketRecord],
    kernels: Iterable[KernelRecord],
    *,
    now: float,
    advice_hours: float,
    has_debuginfo: Callable[[str], bool],
    base_url: str | None = None,
    checked: Container[str] | None = None,
) -> list[Alert]:
    """Alerts from the state of the store: overdue first advice, spikes, kernels lacking debuginfo, and
    (with ``checked``, the releases that have a readiness report) kernels no check has tried."""
    out: list[Alert] = []
    today = day_of(now)
    for b in buckets:
        # A bucket from before the workflow has no deadline: first seen + advice_hours.
        deadline = b.advice_deadline if b.advice_deadline is not None else b.first_seen + advice_hours * 3600
        if is_overdue(b.status, b.kb, deadline, now):
            late = (now - deadline) / 3600
            out.append(Alert(
                "overdue_advice", f"overdue:{b.id}", f"First advice overdue: {b.title}",
                f"Bucket {b.id} ({b.count} crashes) has had no advice for {late:.1f} h past its deadline.",
                "warning", _link(base_url, f"/ui/buckets/{b.id}"),
                {"bucket": b.id, "hours_late": round(late, 2)},
            ))
        if b.spike:
            out.append(spike(b, today, base_url))
        out += regressed(b, base_url)
    for k in kernels:
        if k.crashes and not has_debuginfo(k.release):
            out.append(Alert(
                "no_debuginfo", f"no-debuginfo:{k.release}", f"No debuginfo for kernel {k.release}",
                f"{k.crashes} crashes on {k.hosts} hosts run {k.release}, and no vmlinux with debuginfo "
                "is available to analyse their dumps.",
                "warning", _link(base_url, "/ui/kernels"), {"release": k.release, "crashes": k.crashes},
            ))
        if checked is not None and k.release not in checked:
            out.append(unchecked_kernel(k, base_url))
    return out


def unchecked_kernel(k: KernelRecord, base_url: str | None = None) -> Alert:
    """A kernel hosts run or crashes came from, with no readiness report: said once per kernel, ever
    (``once``), from the first tick that sees it in the fleet."""
    seen = f"{k.hosts} host{'s' if k.hosts != 1 else ''}"
    crashes = f", {k.crashes} crash{'es' if k.crashes != 1 else ''}" if k.crashes else ""
    return Alert(
        "no_readiness", f"no-readiness:{k.release}", f"Kernel {k.release} is in the fleet unchecked",
        f"Kernel {k.release} runs in the fleet ({seen}{crashes}) and no kernel check has shown that its "
        "crashes are captured and readable: run crashhub kernel check on its package.",
        "warning", _link(base_url, "/ui/kernels#unchecked"),
        {"release": k.release, "hosts": k.hosts, "crashes": k.crashes}, once=True,
    )
