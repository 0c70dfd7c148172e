"""The standard crashes of a check and how the guest's /init (init.sh) triggers each.

The crash lab makes the same three kinds from this table (lab/kinds.py) and many more of its own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from crashhub.readiness._model import CheckKind


@dataclass(frozen=True, slots=True)
class Trigger:
    kind: CheckKind
    command: str  # run by busybox sh in the guest: sh -c 'echo LAB-TRIGGER pid=$$; <command>'
    expected_function: str  # where the crash is made: the guilty frame triage should name
    needs_module: bool  # the test module (crashmod) must be loaded
    sysctls: dict[str, str] = field(default_factory=dict)  # /proc/sys path -> value, set before
    # The task that panics when it is not the trigger's shell (a spinning kthread): its comm.
    panic_comm: str | None = None


# A soft lockup needs the watchdog to fire soon and to panic: 5 s threshold (a lockup after ~10 s).
SOFTLOCKUP_SYSCTLS = {"/proc/sys/kernel/watchdog_thresh": "5", "/proc/sys/kernel/softlockup_panic": "1"}

TRIGGERS: dict[str, Trigger] = {
    "sysrq": Trigger("sysrq", "echo c > /proc/sysrq-trigger", "sysrq_handle_crash", False),
    "null": Trigger("null", "echo null > /proc/crashmod", "crashmod_null", True),
    "softlockup": Trigger("softlockup", "echo softlockup > /proc/crashmod", "crashmod_spin", True,
                          SOFTLOCKUP_SYSCTLS, panic_comm="crashmod_spin"),
}
