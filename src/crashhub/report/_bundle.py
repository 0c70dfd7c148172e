"""The vendor bundle: one crash as a clean ``.tar.gz`` a support engineer can work from.

Layout (under ``crashhub-<crash id>/``)::

    MANIFEST.json        what is in the bundle, with sizes and SHA-256
    README.txt           how to read it
    report.md            the crash report (summary, oops, frames, KB entry)
    kernel.json          release, version, build-id, taint
    dump-facts.json      what the dump is (no local paths)
    log/<name>           the crash's logs (vmcore-dmesg.txt, kexec-dmesg.log, dmesg-from-dump.txt)
    analysis/{sys,bt,mod,log}.txt   crash's outputs, when the analysis ran
    analysis/summary.json           engine, panic task, stack, findings
    bucket/history.json  the bucket, its hand-made changes, and its crashes (ids, times, kernels)
    kb/<id>.yaml         the matching knowledge-base entries
    redactions.json      what was redacted (kind, placeholder, count; never the value)
    vmcore               only with ``with_dump`` (not redacted: it is memory)

Everything comes from the store and the blob store by the crash's own records; nothing else on
the hub's disk is read.  Text goes through :class:`crashhub.report._redact.Redactor` first.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from crashhub.analyze import Analysis, AnalysisRecord
from crashhub.errors import InputError
from crashhub.report import _render as render
from crashhub.report._redact import Redactor, compile_patterns

if TYPE_CHECKING:
    from crashhub.knowledge import KnowledgeBase
    from crashhub.store import Hub

MAX_TEXT_FILE = 64 * 1024 * 1024  # a log bigger than this is cut (with a note), never read whole
ANALYSIS_OUTPUTS = ("sys", "bt", "mod", "log")
_DROP_FACTS = frozenset({"path", "registers", "vmcoreinfo"})  # local paths, raw memory words


@dataclass(frozen=True, slots=True)
class BundleResult:
    path: Path
    files: list[str]
    redactions: list[dict[str, object]]
    mapping: dict[str, tuple[str, str]]  # value -> (kind, placeholder): for the operator only


def _jsonb(obj: Any) -> bytes:
    return (json.dumps(obj, indent=2, ensure_ascii=False, sort_keys=True, default=str) + "\n").encode()


def make_bundle(
    hub: Hub,
    kb: KnowledgeBase,
    crash_id: str,
    out: Path,
    *,
    with_dump: bool = False,
    patterns: Iterable[str] = (),
    redact_ips: bool = True,
) -> BundleResult:
    store, blobs = hub.store, hub.blobs
    c = store.crashes.get_crash(crash_id)
    if c is None:
        raise InputError(f"no crash {crash_id!r}")
    b = store.buckets.get_bucket(c.bucket_id)
    peers = store.crashes.list_crashes(bucket=c.bucket_id, limit=200)

    red = Redactor(patterns=compile_patterns(patterns), redact_ips=redact_ips)
    red.add_host(c.host)
    red.add_host((c.dump_facts or {}).get("hostname"))
    for h in (b.hosts if b else ()):
        red.add_host(h)
    for p in peers:
        red.add_host(p.host)

    texts: dict[str, str] = {}
    for f in c.files:
        if f.role in ("log", "kexec_log", "log_from_dump"):
            with blobs.open(f.digest) as fh:
                raw = fh.read(MAX_TEXT_FILE + 1)
            text = raw[:MAX_TEXT_FILE].decode("utf-8", "replace")
            if len(raw) > MAX_TEXT_FILE:
                text += f"\n[crashhub: cut at {MAX_TEXT_FILE} bytes]\n"
            texts[f"log/{os.path.basename(f.name)}"] = text
    an = AnalysisRecord.from_dict(c.analysis) if c.analysis else None
    res = (an.result if an else None) or Analysis()
    crash_run = res.engines.get("crash")
    outputs = (crash_run.section("outputs") if crash_run else None) or {}
    for k in ANALYSIS_OUTPUTS:
        if outputs.get(k):
            texts[f"analysis/{k}.txt"] = str(outputs[k])
    for t in texts.values():
        red.learn(t)

    files: dict[str, bytes] = {}
    for name, t in texts.items():
        files[name] = red.redact(t).encode()
    rep = c.report or {}
    taint = rep.get("taint") if isinstance(rep.get("taint"), dict) else {}
    kernel = {
        "release": c.release,
        "version": rep.get("version") or (c.dump_facts or {}).get("version"),
        "build_id": (c.dump_facts or {}).get("build_id"),
        "arch": rep.get("arch") or (c.dump_facts or {}).get("arch"),
        "taint": {"letters": (taint or {}).get("letters"), "flags": (taint or {}).get("flags") or []},
    }
    files["kernel.json"] = red.redact(_jsonb(kernel).decode()).encode()
    if c.dump_facts:
        facts = {k: v for k, v in c.dump_facts.items() if k not in _DROP_FACTS}
        files["dump-facts.json"] = red.redact(_jsonb(facts).decode()).encode()
    if an:
        summary = {
            "status": an.status,
            "error": an.error,
            "engine": res.engine,
            "panic_message": res.panic_message,
            "panic_task": res.panic_task.to_dict() if res.panic_task else None,
            "stack": [f.to_dict() for f in res.stack],
            "findings": [f.to_dict() for f in res.findings],
            "versions": res.versions,
        }
        files["analysis/summary.json"] = red.redact(_jsonb(summary).decode()).encode()
    history = {
        "bucket": b.to_dict() if b else None,
        "events": [
            {"at": e.at, "action": e.action, "actor": e.actor, "detail": e.detail}
            for e in store.buckets.bucket_events(c.bucket_id)
        ],
        "crashes": [
            {"id": p.id, "time": p.crash_time or p.received_at, "host": p.host, "release": p.release}
            for p in peers
        ],
    }
    files["bucket/history.json"] = red.redact(_jsonb(history).decode()).encode()
    from crashhub.kb import dump_entry  # noqa: PLC0415

    for m in kb.crash_view(store, c).matches:  # the KB of now, as the report and the UI say
        e = kb.get(m.entry_id)
        if e is not None:
            files[f"kb/{e.id}.yaml"] = red.redact(dump_entry(e)).encode()
    files["report.md"] = red.redact(render.to_markdown(render.crash_doc(hub, kb, crash_id))).encode()
    files["redactions.json"] = _jsonb({"redacted": red.summary(), "patterns": len(red.patterns),
                                       "ips": redact_ips})
    files["README.txt"] = _readme(crash_id, with_dump).encode()

    dump = next((f for f in c.files if f.role == "vmcore"), None)
    if with_dump and dump is None:
        raise InputError(f"crash {crash_id} has no dump to include")
    listing: dict[str, dict[str, Any]] = {
        n: {"size": len(d), "sha256": hashlib.sha256(d).hexdigest()} for n, d in sorted(files.items())
    }
    if with_dump and dump is not None:
        listing["vmcore"] = {"size": dump.size, "sha256": dump.digest}
    manifest = {"crash": crash_id, "generated_at": time.time(), "with_dump": bool(with_dump and dump),
                "files": listing}
    files["MANIFEST.json"] = _jsonb(manifest)

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    root = f"crashhub-{crash_id}"
    now = int(time.time())
    try:
        with tarfile.open(tmp, "w:gz") as tar:
            for name in sorted(files):
                data = files[name]
                ti = tarfile.TarInfo(f"{root}/{name}")
                ti.size, ti.mtime, ti.mode = len(data), now, 0o644
                tar.addfile(ti, io.BytesIO(data))
            if with_dump and dump is not None:
                ti = tarfile.TarInfo(f"{root}/vmcore")
                ti.size, ti.mtime, ti.mode = dump.size, now, 0o600
                with blobs.open(dump.digest) as fh:
                    tar.addfile(ti, fh)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
    names = sorted(files) + (["vmcore"] if with_dump and dump else [])
    return BundleResult(out, names, red.summary(), dict(red.mapping))


def _readme(crash_id: str, with_dump: bool) -> str:
    return (
        f"crashhub vendor bundle for crash {crash_id}\n\n"
        "report.md is the place to start: the diagnosis (each finding's claim, culprit, evidence read\n"
        "from the dump and the command that shows it again), what happened, the known cause and\n"
        "advice, the oops and its frames.  kernel.json names the kernel (release, version,\n"
        "build-id) and its taint; log/ holds the kernel logs, analysis/ the outputs of crash (sys,\n"
        "bt, mod, log) and summary.json (the findings as data) when the dump was analysed,\n"
        "bucket/history.json every crash of the same bug and what was changed by hand, kb/ the\n"
        "knowledge-base entries that matched.\n\n"
        "Host names, IP addresses and user names were replaced by placeholders (host-1, ip-1,\n"
        "user-1, redacted-1); redactions.json lists them.  The same value has the same placeholder\n"
        "in every file.\n"
        + ("\nvmcore is the dump itself. It is memory and is NOT redacted.\n" if with_dump else "")
    )
