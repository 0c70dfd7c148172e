"""Never worse than the log: the unwound panic stack merged, frame by frame, with the log's Call Trace.

Runs inside the drgn engine over its frame dicts (``function``, ``module``, ``address``, ``inline``,
``name_from``, ...).  Both stacks are cut into *groups*: the inline frames drgn (or the DWARF lookup
of a log entry) gives for one return address, ending with the real frame.  A group of the unwound
stack matches a group of the log when they share a function (clone suffixes such as ``.cold`` and
``.constprop.0`` aside); the matches keep their order.  Then:

* an unwound group that is only a raw address takes the log's group at the same distance from the
  nearest matched group (the unwinder and the log walk the same return addresses), named "log";
* when the unwinder stopped in the kernel before the log did (no ORC data for a module whose .ko
  was not given: drgn 0.3.0 reads ORC from the module's file, not from the dump), the log's frames
  after the last one it reached are appended, each marked ``source: "log"``.

The caller keeps the log's stack whole if the merge still names fewer frames than the log.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from crashhub.kernel import base_name

Frames = list[dict[str, Any]]
# x86-64 kernel addresses start here; below it a frame is the user-space pc the syscall came from.
KERNEL_START = 0xFFFF800000000000


@dataclass(frozen=True, slots=True)
class Merged:
    stack: Frames
    named_from_log: int  # raw unwound frames named by the log
    appended: int  # log frames after the point where the unwinder stopped
    stopped_at: dict[str, Any] | None  # the last frame the unwinder gave, when it stopped early
    matched: int = 0  # frames (groups) both stacks name: 0 for another task's trace

    def worse_than(self, logged: Frames) -> bool:
        """Does the log's stack name more of *this task's* frames?  A log whose trace shares no
        function with a named unwound stack is another task's (a hung-task panic prints the
        blocked task's trace under khungtaskd's "CPU: PID:" line), never better."""
        if named_count(self.stack) >= named_count(logged):
            return False
        return self.matched > 0 or named_count(self.stack) == 0


def unnamed(frame: dict[str, Any]) -> bool:
    """A frame the unwinder could only give as an address."""
    fn = frame.get("function")
    return fn is None or str(fn).startswith("0x")


def named_count(frames: Frames) -> int:
    """Named real frames: inline ones aside, since the log's lines are return addresses (one per
    real frame) and DWARF may expand any of them into inline frames."""
    return sum(not unnamed(f) and not f.get("inline") for f in frames)


def _groups(frames: Frames) -> list[Frames]:
    out: list[Frames] = []
    cur: Frames = []
    for f in frames:
        cur.append(f)
        if not f.get("inline"):
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def _names(group: Frames) -> set[str]:
    return {base_name(str(f["function"])) for f in group if not unnamed(f)}


def _user(group: Frames) -> bool:
    addr = group[-1].get("address")
    return unnamed(group[-1]) and isinstance(addr, int) and addr < KERNEL_START


def _match(ug: list[Frames], lg: list[Frames]) -> dict[int, int]:
    """Unwound group -> log group, in order, for the groups that share a function."""
    out: dict[int, int] = {}
    nxt = 0
    for i, g in enumerate(ug):
        names = _names(g)
        if not names:
            continue
        j = next((j for j in range(nxt, len(lg)) if names & _names(lg[j])), None)
        if j is not None:
            out[i], nxt = j, j + 1
    return out


def _place(i: int, match: dict[int, int], n_log: int) -> int | None:
    """The log group an unmatched unwound group ``i`` stands for, by its distance to the nearest
    match (the first frames of both are the faulting RIP when nothing matches)."""
    after = [k for k in match if k > i]
    before = [k for k in match if k < i]
    if after:
        j = match[min(after)] - (min(after) - i)
        lo = match[max(before)] if before else -1
        return j if lo < j < n_log else None
    if before:
        j = match[max(before)] + (i - max(before))
        return j if j < n_log else None
    return i if i < n_log else None


def _from_log(group: Frames, address: Any) -> Frames:
    return [{**f, "address": address, "source": "log"} for f in group]


def merge(unwound: Frames, logged: Frames) -> Merged:
    """The unwound stack with its raw frames named and its missing tail taken from the log."""
    ug, lg = _groups(unwound), _groups(logged)
    if not lg:
        return Merged(list(unwound), 0, 0, None)
    if not ug:
        return Merged([{**f, "source": "log"} for f in logged], 0, len(logged), None)
    match = _match(ug, lg)
    placed = dict(match)
    out: list[Frames] = []
    filled = 0
    for i, g in enumerate(ug):
        j = None if _names(g) or _user(g) else _place(i, match, len(lg))
        if j is not None and j not in placed.values():
            placed[i] = j
            out.append(_from_log(lg[j], g[-1].get("address")))
            filled += 1
        else:
            out.append(g)
    kernel = [i for i, g in enumerate(ug) if not _user(g)]
    last = kernel[-1] if kernel else None
    reached_user = last is not None and last < len(ug) - 1
    appended: Frames = []
    stopped: dict[str, Any] | None = None
    if last is not None and not reached_user and last in placed and placed[last] < len(lg) - 1:
        stopped = ug[last][-1]
        appended = [{**f, "source": "log"} for g in lg[placed[last] + 1:] for f in g]
    stack = [f for g in out for f in g] + appended
    return Merged(stack, filled, len(appended), stopped, len(match))
