"""The crash engine: the classic ``crash`` utility in batch mode, outputs kept verbatim.

One crash run per mode, commands on stdin ended by ``exit`` (at EOF crash exits 1), each
command preceded by a ``!echo`` marker so the outputs can be told apart.  Modes are
tried in order until one gives ``sys`` output: ``normal``, ``--zero_excluded`` (reads of
pages the dump left out return zeros instead of failing) and ``--minimal`` (only
``log``, ``dis``, ``rd``, ``sym``, ``eval``).  ``--kaslr=auto`` is always passed: crash
8.0.2 does not find the KASLR offset of 6.12 dumps by itself and exits silently.

Known limits of crash 8.0.2 (Debian bookworm), named in the result so users know the fix:
on 6.4+ kernels it stops at ``invalid structure member offset: module_core_size`` (the
module layout changed in 6.4; crash 8.0.3+ reads it); on 6.1 it says "active task ...
not found in PID hash" and counts ``TASKS: 3`` while there are dozens.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from crashhub.analyze._limits import memory_exhausted, run_limited

COMMANDS = ("sys", "bt", "bt -a", "log", "ps", "mod", "kmem -i", "runq")
MODES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("normal", ()),
    ("--zero_excluded", ("--zero_excluded",)),
    ("--minimal", ("--minimal",)),
)
MINIMAL_COMMANDS = ("log",)
MARK = "@@crashhub-cmd@@"
MAX_CMD_OUTPUT = 4 << 20

_BT_HEAD = re.compile(r'PID:\s*(\d+)\s+TASK:\s*([0-9a-f]+)\s+CPU:\s*(\d+)\s+COMMAND:\s*"([^"]*)"')
_BT_FRAME = re.compile(r"^\s*#(\d+)\s+\[([0-9a-f]+)\]\s+(\S+)\s+at\s+([0-9a-f]+)(?:\s+\[(\S+)\])?")
_BT_RIP = re.compile(r"\[exception RIP:\s*([^+\]\s]+)(?:\+(\d+))?\]")
_SYS_LINE = re.compile(r"^\s*([A-Z][A-Z ]+):\s(.*)$")
_ERROR = re.compile(r"^(crash: .*|.*invalid structure member offset.*|.*cannot determine.*|"
                    r".*not found in PID hash.*|WARNING: .*)$", re.M)


def crash_version(binary: str = "crash") -> str | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True, timeout=30,
                             check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"crash\s+(\d+\.\d+\.\d+\S*)", out)
    return m.group(1) if m else None


def parse_sys(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = _SYS_LINE.match(line)
        if m:
            out[m.group(1).strip()] = m.group(2).strip()
    return out


def parse_bt(text: str) -> list[dict[str, Any]]:
    """Each task's back trace: pid, comm, cpu, frames (function, module, address, sp)."""
    tasks: list[dict[str, Any]] = []
    cur: dict[str, Any] | None = None
    for line in text.splitlines():
        h = _BT_HEAD.search(line)
        if h:
            cur = {"pid": int(h.group(1)), "task": h.group(2), "cpu": int(h.group(3)),
                   "comm": h.group(4), "frames": []}
            tasks.append(cur)
            continue
        if cur is None:
            continue
        r = _BT_RIP.search(line)
        if r:
            cur["frames"].append({"function": r.group(1), "module": None, "exception": True,
                                  "offset": int(r.group(2)) if r.group(2) else None, "name_from": "crash"})
            continue
        f = _BT_FRAME.match(line)
        if f:
            cur["frames"].append({"function": f.group(3), "module": f.group(5),
                                  "address": int(f.group(4), 16), "sp": int(f.group(2), 16),
                                  "name_from": "crash"})
    return tasks


def from_exception(frames: list[dict[str, Any]]) -> list[str]:
    """The functions from the exception RIP on: what ran when the oops hit, as drgn shows it."""
    for i, f in enumerate(frames):
        if f.get("exception"):
            return [str(x["function"]) for x in frames[i:]]
    return [str(x["function"]) for x in frames]


def _script(commands: tuple[str, ...]) -> bytes:
    lines = []
    for i, c in enumerate(commands):
        lines += [f"!echo '{MARK} {i}'", c]
    lines.append("exit")
    return ("\n".join(lines) + "\n").encode()


def split_outputs(text: str, commands: tuple[str, ...]) -> tuple[str, dict[str, str]]:
    """The preamble (before the first marker) and each command's output, by command."""
    parts = re.split(rf"^{re.escape(MARK)} (\d+)\s*$", text, flags=re.M)
    outputs: dict[str, str] = {}
    for i in range(1, len(parts) - 1, 2):
        idx = int(parts[i])
        if 0 <= idx < len(commands):
            outputs[commands[idx]] = parts[i + 1].strip("\n")[:MAX_CMD_OUTPUT]
    return parts[0], outputs


def _run_mode(binary: str, vmlinux: Path, dump: Path, flags: tuple[str, ...], commands: tuple[str, ...],
              *, timeout: float, mem_bytes: int | None) -> dict[str, Any]:
    minimal = "--minimal" in flags
    script = ("\n".join([*commands, "exit"]) + "\n").encode() if minimal else _script(commands)
    argv = [binary, "-s", "--kaslr=auto", *flags, str(vmlinux), str(dump)]
    out = run_limited(argv, timeout=timeout, mem_bytes=mem_bytes, stdin=script)
    text = out.stdout.decode("utf-8", "replace")
    err = out.stderr.decode("utf-8", "replace")
    if minimal:
        # No '!echo' in minimal mode: the single command's output is all there is.
        preamble, outputs = "", ({commands[0]: text.strip("\n")} if text.strip() else {})
    else:
        preamble, outputs = split_outputs(text, commands)
    problems = [m.group(0).strip() for m in _ERROR.finditer(preamble + "\n" + err)][:20]
    res: dict[str, Any] = {"argv": argv, "returncode": out.returncode, "seconds": round(out.seconds, 3),
                           "peak_rss_kb": out.peak_rss_kb, "outputs": outputs, "problems": problems,
                           "stderr": err[-4000:]}
    if out.killed_reason:
        res["killed"] = out.killed_reason
    elif memory_exhausted(err):  # gdb inside crash says "memory exhausted" and carries on crippled
        res["killed"] = "memory"
    return res


def run(dump: Path, vmlinux: Path, *, timeout: float = 300.0, mem_bytes: int | None = 4 << 30,
        binary: str = "crash", commands: tuple[str, ...] = COMMANDS) -> dict[str, Any]:
    """Try crash's modes in order; the first that answers ``sys`` (or ``log`` when minimal) wins."""
    res: dict[str, Any] = {"engine": "crash", "ok": False, "mode": None, "attempts": [], "outputs": {},
                           "mem_bytes": mem_bytes}
    exe = shutil.which(binary)
    if exe is None:
        res["failure"] = "crash is not installed (Debian package 'crash')"
        return res
    res["version"] = crash_version(exe)
    skip = False
    for mode, flags in MODES:
        if skip and mode == "--zero_excluded":
            continue
        cmds = MINIMAL_COMMANDS if "--minimal" in flags else commands
        att = _run_mode(exe, vmlinux, dump, flags, cmds, timeout=timeout, mem_bytes=mem_bytes)
        res["attempts"].append({"mode": mode, **{k: v for k, v in att.items() if k != "outputs"}})
        good = ("KERNEL:" in att["outputs"].get("sys", "")) if "sys" in cmds else bool(att["outputs"])
        if good:
            res["mode"], res["outputs"], res["ok"] = mode, att["outputs"], True
            break
        if mode == "normal" and any("invalid structure member offset" in p for p in att["problems"]):
            # crash does not know this kernel's structures; zeroing excluded pages cannot help.
            res["attempts"].append({"mode": "--zero_excluded", "skipped": "the failure is not a missing page",
                                    "problems": []})
            skip = True
    if res["mode"] is None:
        res["failure"] = explain(res)
    elif res["mode"] == "--minimal":
        res["failure"] = explain(res) + "; only the log could be read (--minimal)"
    out = res["outputs"]
    if "sys" in out:
        res["sys"] = parse_sys(out["sys"])
        res["tasks"] = _int(res["sys"].get("TASKS"))
        pm = re.match(r'"(.*)"', res["sys"].get("PANIC", ""))
        res["panic_message"] = pm.group(1) if pm else (res["sys"].get("PANIC") or None)
    if "bt" in out:
        bts = parse_bt(out["bt"])
        if bts:
            b = bts[0]
            res["panic_task"] = {"pid": b["pid"], "comm": b["comm"], "cpu": b["cpu"]}
            res["stack"] = b["frames"]
    if "bt -a" in out:
        res["cpus"] = parse_bt(out["bt -a"])
    res["warnings"] = sorted({p for a in res["attempts"] for p in a["problems"] if "PID hash" in p})
    if res["warnings"]:
        res["warnings"].append("crash 8.0.2 misreads this kernel's task list (ps, foreach and the TASKS "
                               "count are wrong); drgn's task list is the one to trust")
    return res


def _int(s: str | None) -> int | None:
    try:
        return int(s) if s is not None else None
    except ValueError:
        return None


def explain(res: dict[str, Any]) -> str:
    """Why crash could not open the dump, and the fix."""
    problems = [p for a in res["attempts"] for p in a["problems"]]
    text = " ".join(problems)
    ver = res.get("version") or "?"
    if "module_core_size" in text or "invalid structure member offset" in text:
        return (f"crash {ver} cannot open this kernel's dump ({next(p for p in problems if 'offset' in p)}): "
                "the kernel is newer than this crash understands (6.4 changed the module layout); "
                "install a newer crash (8.0.3 or later)")
    if any(a.get("killed") for a in res["attempts"]):
        kinds = sorted({str(a["killed"]) for a in res["attempts"] if a.get("killed")})
        lim = res.get("mem_bytes")
        extra = (f" (memory limit {lim / 2**30:.1f} GiB: raise it)" if "memory" in kinds and lim else "")
        return f"crash was stopped by the analysis limits: {', '.join(kinds)}{extra}"
    if not text:
        return (f"crash {ver} exited without output: it could not read this dump with this vmlinux "
                "(wrong vmlinux, or a kernel newer than this crash; try a newer crash)")
    return f"crash {ver} failed: {problems[0]}"
