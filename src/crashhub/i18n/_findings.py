"""A finding's claim and detail in Chinese.

The checks (``crashhub.analyze``) write each finding in English, and the store keeps it so
(docs/analysis.md): a row analysed last year reads the same today.  A zh page renders the text
through two tables instead, the way syzkaller normalises titles with one ordered replacement
table:

- ``SENTENCES``: fixed sentences (most details, a few claims), looked up whole;
- ``PHRASES``: ordered ``(regex, replacement)`` pairs for the claims, which the checks compose from
  a head ("soft lockup: CPU 3 stuck for 22 s") and clauses (", held by CPU 1, which runs ...").

Names, addresses and numbers read from the dump go through untouched (they are the groups).  A
phrase no rule knows stays English: the reader still gets the fact.  ``tests/ui/test_i18n.py``
runs the analyzer's real claims through it and checks no English phrase is left.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from crashhub.i18n._catalog_zh import ZH

SENTENCES: dict[str, str] = {
    # _checks.py
    "dump lacks kernel memory: the capture's makedumpfile does not support this kernel; use -d 23 or "
    "update it": "转储缺少内核内存：捕获时使用的 makedumpfile 不支持此内核；请使用 -d 23 或升级 makedumpfile",
    "dump too partial to trust: pages the analysis needs are missing":
        "转储残缺过多，结果不可信：分析所需的页缺失",
    "the dump is incomplete (capture was cut short)": "转储不完整（捕获被中途截断）",
    "makedumpfile did not finish writing it; pages past the cut are missing":
        "makedumpfile 没有写完转储；截断点之后的页都缺失了",
    "The hung-task watchdog found a task in uninterruptible sleep past the timeout.":
        "挂起任务看门狗发现有任务处于不可中断睡眠的时间超过了超时阈值。",
    "A CPU ran kernel code without scheduling past the watchdog threshold.":
        "某个 CPU 运行内核代码而不调度，时间超过了看门狗阈值。",
    "A CPU ran with interrupts off past the NMI watchdog threshold.":
        "某个 CPU 关中断运行，时间超过了 NMI 看门狗阈值。",
    "out of memory: the kernel panicked on OOM (panic_on_oom)":
        "内存耗尽：内核因 OOM 而 panic（panic_on_oom）",
    # _diag_report.py
    "The code checked a condition it relies on and found it false; the cause is whatever made it false "
    "before this call (look at the caller's state, not at the assertion).":
        "代码检查了它所依赖的条件，发现条件不成立；原因在于调用之前是什么让条件变成了假（要看调用者的状态，"
        "而不是断言本身）。",
    "Someone crashed the machine by hand after the report above: that report is the problem they wanted "
    "captured.": "有人在上面那份报告之后手动让机器崩溃：那份报告才是他们想要捕获的问题。",
    "Unbounded recursion (or a very deep call chain with large frames) used up the kernel stack (16 KiB "
    "on x86_64); look for the missing termination or depth limit.":
        "无界递归（或栈帧很大的极深调用链）耗尽了内核栈（x86_64 上为 16 KiB）；"
        "请查找缺失的终止条件或深度限制。",
    # _diag_cpus.py
    "A CPU waits for another to run a cross-CPU function call (IPI); the target has not taken it. With "
    "its interrupts off it cannot: what it runs is the culprit. Node.dst is kept only with "
    "CONFIG_CSD_LOCK_WAIT_DEBUG: the target is the CPU whose call_single_queue holds the csd.":
        "一个 CPU 在等待另一个 CPU 执行跨 CPU 函数调用（IPI），而目标 CPU 一直没有处理。目标 CPU 关着中断"
        "就无法处理：它正在运行的代码就是元凶。只有开启 CONFIG_CSD_LOCK_WAIT_DEBUG 才会保留 node.dst："
        "目标 CPU 就是其 call_single_queue 中挂着该 csd 的那个 CPU。",
    "A CPU ran with interrupts off when the NMI came: it took no interrupt, no IPI and no timer tick. "
    "(A short interrupts-off section caught by chance reads the same: the NMI watchdog's report or a "
    "second dump confirms it.)":
        "NMI 到来时该 CPU 正关着中断：它收不到任何中断、IPI 或时钟节拍。（碰巧被抓到的短暂关中断区间看起来"
        "也一样：需要 NMI 看门狗的报告或第二份转储来确认。）",
    "The panic came from an NMI the kernel did not raise (a hypervisor's or BMC's NMI, "
    "unknown_nmi_panic); no CPU was stuck: look at who sent it.":
        "panic 来自一个不是内核发出的 NMI（虚拟化层或 BMC 的 NMI，unknown_nmi_panic）；没有 CPU 卡住："
        "请查明是谁发送了它。",
    "A CPU spun on a spinlock past the soft-lockup threshold; the CPU holding the lock is the one to "
    "look at.": "某个 CPU 在自旋锁上自旋，时间超过了软死锁阈值；该查看的是持有这把锁的 CPU。",
    "A CPU ran kernel code without scheduling past the watchdog threshold: the function it loops in is "
    "the culprit.": "某个 CPU 运行内核代码而不调度，时间超过了看门狗阈值：它所循环的函数就是元凶。",
    "The CPU's bit is still set in its leaf rcu_node's qsmask: since the grace period began it has not "
    "passed a quiescent state (a context switch, user mode, idle); it runs the function named without "
    "scheduling.":
        "该 CPU 在其叶子 rcu_node 的 qsmask 中的位仍然置位：自宽限期开始以来，它没有经过任何静止状态"
        "（上下文切换、用户态、空闲）；它一直在运行所列函数而不调度。",
    "A task preempted or asleep inside rcu_read_lock() waits on its rcu_node's blkd_tasks list; no grace "
    "period can end until it runs rcu_read_unlock().":
        "一个在 rcu_read_lock() 内被抢占或睡眠的任务挂在其 rcu_node 的 blkd_tasks 链表上；在它执行 "
        "rcu_read_unlock() 之前，任何宽限期都无法结束。",
    # _diag_waits.py
    "The task waits for a lock it holds itself (taken twice on one path): it can never go on.":
        "该任务在等待一把它自己持有的锁（同一路径上获取了两次）：它永远无法继续。",
    "Each task holds the lock the one before it waits for: none can go on.":
        "每个任务都持有前一个任务在等待的锁：谁都无法继续。",
    "The chain ends at a task that sleeps holding the lock the others wait for.":
        "等待链终止于一个持有其他任务所等待的锁、正在睡眠的任务。",
    "The chain ends at a running task that holds the lock while it runs.":
        "等待链终止于一个持锁运行的任务。",
    "The chain ends at a task waiting in a way the dump does not tie to an owner.":
        "等待链终止于一个等待中的任务，转储无法把它的等待关联到任何持有者。",
    "The chain ends at a wait with no owner to follow: the waiter is named.":
        "等待链终止于一个没有持有者可追踪的等待：这里列出的是等待者。",
    "The owner's task or stack is absent from the dump: the chain stops there.":
        "持有者的任务或栈不在转储中：等待链到此为止。",
    "The wait's object could not be read from the frames: the chain stops there.":
        "无法从栈帧中读出所等待的对象：等待链到此为止。",
}

_Repl = str | Callable[[re.Match[str]], str]


_VERB = {"wrote": "写入了", "read": "读取了", "updated": "更新了", "accessed": "访问了"}
_SLAB = {"allocated": "已分配", "free": "空闲", "allocation state unreadable": "分配状态不可读"}
_CTX = {"NMI": "NMI ", "hardirq": "硬中断", "softirq": "软中断", "task": "任务"}
_IRQ = {("interrupts", "off"): "关中断", ("interrupts", "on"): "开中断",
        ("preemption", "off"): "关抢占", ("preemption", "on"): "开抢占"}
_FOUND = {"optimized out": "已被编译器优化掉", "not read": "未读取"}


def _taint_kinds(m: re.Match[str]) -> str:
    kinds = "、".join(ZH.get(k, k) for k in m[1].split(" and "))
    return f"内核被污染：{kinds}（{m[2]}）"


def _p(pattern: str, repl: _Repl) -> tuple[re.Pattern[str], _Repl]:
    return re.compile(pattern), repl


# Order matters: a whole head first, then the clauses it may be followed by.  [!-~]+ groups (printable
# ASCII, so never a phrase already translated) are names from the dump, kept as they are.
PHRASES: tuple[tuple[re.Pattern[str], _Repl], ...] = (
    # _checks.py
    _p(r"^(\d+) reads hit pages the dump left out \(dump level ([!-~]+)\); the answers below come from the "
       r"log and the pages that are there\.",
       r"有 \1 次读取落在转储略去的页上（dump level \2）；以下结论来自日志和转储中现有的页。"),
    _p(r" Kernel ([!-~]+) keeps slab pages as a page type \(6\.10\+\), which makedumpfile 1\.7\.x mistakes "
       r"for user pages and excludes with 'exclude user data' \(-d value 8\)\.",
       r"内核 \1 把 slab 页作为一种页类型（6.10+），makedumpfile 1.7.x 会把它们误当作用户页，并在"
       r"“排除用户数据”（-d 值 8）时将其排除。"),
    _p(r"^hung task ([!-~]+):(\d+) blocked over (\d+) s in D state, waiting in (.+)$",
       r"挂起任务 \1:\2 在 D 状态阻塞超过 \3 秒，等待于 \4"),
    _p(r"^hung task ([!-~]+):(\d+) blocked over (\d+) s \(its stack is not in the dump\)$",
       r"挂起任务 \1:\2 阻塞超过 \3 秒（转储中没有它的栈）"),
    _p(r"^(\d+) task\(s\) in uninterruptible sleep \(D state\)$", r"\1 个任务处于不可中断睡眠（D 状态）"),
    _p(r"^hard lockup on CPU (\d+)$", r"CPU \1 发生硬死锁"),
    _p(r"^RCU stall detected \((.+)\)$", r"检测到 RCU 停滞（\1）"),
    _p(r"^out of memory: the kernel panicked on OOM \(panic_on_oom\)",
       "内存耗尽：内核因 OOM 而 panic（panic_on_oom）"),
    _p(r"^out of memory: the OOM killer ran (\d+) time\(s\)", r"内存耗尽：OOM killer 运行了 \1 次"),
    _p(r"; biggest user ([!-~]+) held (\d+) MiB of (\d+) MiB \((\d+) MiB anonymous\), oom_score_adj (-?\d+)",
       r"；最大用户 \1 占用 \2 MiB（共 \3 MiB），其中匿名内存 \4 MiB，oom_score_adj 为 \5"),
    _p(r"; biggest user ([!-~]+) held (\d+) MiB \((\d+) MiB anonymous\), oom_score_adj (-?\d+)",
       r"；最大用户 \1 占用 \2 MiB，其中匿名内存 \3 MiB，oom_score_adj 为 \4"),
    _p(r"; biggest user ([!-~]+) \((\d+) MiB\)", r"；最大用户 \1（\2 MiB）"),
    _p(r"^kernel tainted: (.+) \((.+)\)$", _taint_kinds),
    _p(r"^The crashing stack runs through module ([!-~]+) \((.+)\)\.$", r"崩溃时的调用栈经过模块 \1（\2）。"),
    _p(r"^kernel tainted ([!-~]+) by the out-of-tree module ([!-~]+), and the crashing stack runs "
       r"through it$",
       r"内核被树外模块 \2 污染（\1），且崩溃时的调用栈经过该模块"),
    # _diag_fault.py: "<kind>: f() <verb> <what> (<registers and address>)"
    _p(r"^NULL dereference: ", "空指针解引用："),
    _p(r"^general protection fault: ", "通用保护错误："),
    _p(r"^bad memory access: ", "非法内存访问："),
    _p(r"^NULL pointer dereference in ([!-~]+\(\)): ", r"\1 中的空指针解引用："),
    _p(r"([!-~]+\(\)) (wrote|read|updated|accessed) (\d+) bytes at ",
       lambda m: f"{m[1]} {_VERB[m[2]]} {m[3]} 字节，地址为 "),
    _p(r"([!-~]+\(\)) (wrote|read|updated|accessed) ([!-~]+) with ([!-~]+) == ",
       lambda m: f"{m[1]} {_VERB[m[2]]} {m[3]}，而 {m[4]} == "),
    _p(r"([!-~]+\(\)) (wrote|read|updated|accessed) ", lambda m: f"{m[1]} {_VERB[m[2]]} "),
    _p(r"([!-~]+) written through ([!-~]+) = ([!-~]+)", r"通过 \2 = \3 写入 \1"),
    _p(r", inside the access at (0x[0-9a-f]+)", r"，位于始于 \1 的访问范围内"),
    _p(r": the entry was already taken off its list by list_del\(\)",
       "：该链表项已被 list_del() 从链表中摘除"),
    _p(r": the object was freed \(SLUB poisoning\)", "：该对象已被释放（SLUB 毒化）"),
    _p(r"^use-after-free: a ([!-~]+) object \((0x[0-9a-f]+)\) was written after it was freed: ",
       r"释放后使用：一个 \1 对象（\2）在释放后被写入："),
    _p(r"^slab freelist corruption in ([!-~]+): ", r"\1 的 slab 空闲链表损坏："),
    _p(r"CPU (\d+)'s ([!-~]+) freelist points to ", r"CPU \1 上 \2 的空闲链表指向 "),
    _p(r"; found when ([!-~]+\(\)) allocated from it", r"；在 \1 从中分配时发现"),
    _p(r"^list corruption: list_del\(\) of an entry already deleted: entry ",
       "链表损坏：对已删除的链表项再次执行 list_del()：链表项 "),
    _p(r"^list corruption: a list entry with broken links: entry ", "链表损坏：链表项的链接已断开：链表项 "),
    _p(r" \(([!-~]+) object (0x[0-9a-f]+) \((\d+) bytes, (allocated|free|allocation state unreadable)\), "
       r"entry at offset (0x[0-9a-f]+)\)",
       lambda m: f"（{m[1]} 对象 {m[2]}，{m[3]} 字节，{_SLAB[m[4]]}，链表项偏移 {m[5]}）"),
    _p(r", deleted by ([!-~]+\(\))", r"，由 \1 删除"),
    _p(r"^panic task ([!-~]+(?: \d+)?) on CPU (\d+): ", r"panic 任务 \1 位于 CPU \2："),
    _p(r"task, bottom halves disabled context \(preempt count (\d+) at the dump\)",
       r"任务上下文，下半部已禁用（转储时抢占计数为 \1）"),
    _p(r"(NMI|hardirq|softirq|task) context \(preempt count (\d+) at the dump\)",
       lambda m: f"{_CTX[m[1]]}上下文（转储时抢占计数为 {m[2]}）"),
    _p(r"no lockdep in this kernel: held locks unknown", "此内核没有 lockdep：持有的锁未知"),
    _p(r"held locks: ", "持有的锁："),
    _p(r"no locks held \(lockdep\)", "未持有锁（lockdep）"),
    _p(r"^The oops: ", "oops 信息："),
    _p(r"the byte (0x[0-9a-f]+) repeated: data written over a pointer", r"字节 \1 的重复：指针被数据覆盖"),
    _p(r"the byte (0x[0-9a-f]+) repeated", r"字节 \1 的重复"),
    _p(r"a KASAN shadow address \(of (0x[0-9a-f]+)\)", r"KASAN 影子地址（对应 \1）"),
    _p(r"(?<=, )non-canonical", "非规范地址"),
    _p(r"\(SLUB: the object was freed\)", "（SLUB：对象已被释放）"),
    _p(r"\(SLUB: allocated, never written\)", "（SLUB：已分配但从未写入）"),
    # _diag_report.py
    _p(r"^assertion failed: (BUG\(\)/BUG_ON\(\)|WARN\(\) with panic_on_warn set) in "
       r"([!-~]+\(\))((?: \[[!-~]+\])?)(?: at ([!-~]+))?",
       lambda m: "断言失败："
       + ("BUG()/BUG_ON()" if m[1].startswith("BUG") else "WARN()（已设置 panic_on_warn）")
       + f" 位于 {m[2]}{m[3]}" + (f"，{m[4]}" if m[4] else "")),
    _p(r", called from ([!-~]+\(\))((?: \[[!-~]+\])?)", r"，调用者为 \1\2"),
    _p(r", run by ([!-~]+) on CPU (\d+)$", r"，由 \1 在 CPU \2 上运行"),
    _p(r"^deliberate crash: (echo c > /proc/sysrq-trigger|SysRq-c)(?: by ([!-~]+))? on CPU ([\d?]+) "
       r"\(not a kernel fault\)",
       lambda m: f"人为触发的崩溃：{m[1]}" + (f"（由 {m[2]} 执行）" if m[2] else "")
       + f"，CPU {m[3]}（不是内核故障）"),
    _p(r"; before it: (.+)$", r"；在此之前的报告：\1"),
    _p(r"^kernel stack overflow: ([!-~]+\(\))((?: \[[!-~]+\])?) called itself until the task's stack "
       r"ran into its guard page \((\d+) of the trace's (\d+) frames are ([!-~]+)\)",
       r"内核栈溢出：\1\2 不断递归调用自身，直到任务的栈撞上保护页（调用栈的 \4 帧中有 \3 帧是 \5）"),
    _p(r"^kernel stack overflow: ([!-~]+\(\))((?: \[[!-~]+\])?) ran the call chain past the end of the "
       r"task's stack", r"内核栈溢出：\1\2 的调用链越过了任务栈的末端"),
    # _diag_memory.py
    _p(r"^bad page state: ", "页状态异常："),
    _p(r", freed by ([!-~]+\(\))", r"，由 \1 释放"),
    _p(r"; in the dump: its struct page is not readable in the dump", "；转储中：无法读取它的 struct page"),
    _p(r"; in the dump: ", "；转储中："),
    _p(r"\[no flag bits set\]", "[没有置位的标志]"),
    # _diag_cpus.py
    _p(r"^stuck IPI: CPU (\d+) waits in ([!-~]+) \((.+?)\) for CPU (\d+), which has not run it; "
       r"CPU (\d+) runs ",
       r"IPI 卡住：CPU \1 在 \2（\3）中等待 CPU \4，而后者一直没有执行它；CPU \5 正在运行 "),
    _p(r"^hard lockup: CPU (\d+) ran ([!-~]+\(\)) with interrupts off \((pid \d+ [!-~]+)\)",
       r"硬死锁：CPU \1 在关中断状态下运行 \2（\3）"),
    _p(r"; CPU (\d+) waits for it in ([!-~]+) \((.+?)\), ", r"；CPU \1 在 \2（\3）中等待它，"),
    _p(r"^hard lockup: CPU (\d+) ran ([!-~]+\(\)) with interrupts off for over (\d+) s",
       r"硬死锁：CPU \1 在关中断状态下运行 \2 超过 \3 秒"),
    _p(r"^NMI from outside the kernel while every CPU was idle \((.+)\): no kernel function to blame$",
       r"所有 CPU 都空闲时收到来自内核之外的 NMI（\1）：没有可归咎的内核函数"),
    _p(r"^soft lockup: CPU (\d+) stuck for ([!-~]+) s in ([!-~]+):(\d+)",
       r"软死锁：CPU \1 卡住 \2 秒，任务 \3:\4"),
    _p(r"^soft lockup: CPU (\d+) stuck for ([!-~]+) s", r"软死锁：CPU \1 卡住 \2 秒"),
    _p(r", spinning in ([!-~]+) on a lock whose address the dump does not give",
       r"，自旋于 \1，所等的锁地址在转储中无法得知"),
    _p(r", spinning in ([!-~]+) on (.+?), which is free in the dump",
       r"，自旋于 \1，等待 \2，而该锁在转储中是空闲的"),
    _p(r", spinning in ([!-~]+) on (.+?), held by CPU (\d+), which runs ",
       r"，自旋于 \1，等待 \2，该锁由 CPU \3 持有，它正在运行 "),
    _p(r", spinning in ([!-~]+) on (.+?), locked; its holder cannot be told \((.+)\)$",
       r"，自旋于 \1，等待 \2，该锁已被占用；无法确定持有者（\3）"),
    _p(r"no other CPU runs with preemption off: a task may have left it locked",
       "没有其他 CPU 在关抢占状态下运行：可能有任务没有释放它"),
    _p(r" and itself spins on (.+?): a lock-order deadlock", r"，而它自己又在自旋等待 \1：锁顺序死锁"),
    _p(r", spinning in ", "，自旋于 "),
    _p(r"^RCU stall: CPU (\d+) holds up ", r"RCU 停滞：CPU \1 拖住了 "),
    _p(r"^RCU stall: ([!-~]+) \(pid (\d+)\) holds up ", r"RCU 停滞：\1（pid \2）拖住了 "),
    _p(r"([A-Za-z0-9_]+) grace period g=([0-9a-fx-]+)(?:, started (\d+) jiffies before the dump)?: ",
       lambda m: f"{m[1]} 宽限期 g={m[2]}" + (f"（始于转储前 {m[3]} jiffies）" if m[3] else "") + "："),
    _p(r"it runs ([!-~]+\(\)) ", r"它正在运行 \1 "),
    _p(r" and reports no quiescent state$", "，且没有报告静止状态"),
    _p(r"it (was preempted|sleeps)(?: in ([!-~]+\(\))| \(its stack is not in the dump\)) inside an RCU "
       r"read-side critical section$",
       lambda m: (f"它在 {m[2]} 中" if m[2] else "它（转储中没有它的栈）")
       + ("被抢占" if m[1] == "was preempted" else "睡眠") + "，处于 RCU 读侧临界区内"),
    _p(r" in ([!-~]+\(\)) with (interrupts|preemption) (off|on) \((pid \d+ [!-~]+)\)",
       lambda m: f"，在 {m[1]} 中{_IRQ[m[2], m[3]]}运行（{m[4]}）"),
    _p(r"([!-~]+\(\)) with (interrupts|preemption) (off|on) \((pid \d+ [!-~]+)\)",
       lambda m: f"{m[1]}，{_IRQ[m[2], m[3]]}（{m[4]}）"),
    _p(r" \(its interrupt state is not in the dump\)", "（转储中没有它的中断状态）"),
    # _diag_waits.py: "[hung task ]A (pid) waits for X in f, held by B (pid), which ..."
    _p(r"^self-deadlock: ", "自死锁："),
    _p(r"^ABBA deadlock: ", "ABBA 死锁："),
    _p(r"^deadlock cycle of (\d+) tasks: ", r"\1 个任务构成的死锁环："),
    _p(r"hung task (?=[!-~]+ \(\d+\))", "挂起任务 "),
    _p(r"not read by the engine", "引擎未读取"),
    _p(r"([!-~]+ \(\d+\)) holds ([!-~]+) and ", r"\1 持有 \2，并且"),
    _p(r"waits for (.+?) in ([!-~]+?)(?=,|$| \()", r"在 \2 中等待 \1"),
    _p(r", which it already holds$", "，而这把锁正由它自己持有"),
    _p(r", held by ([!-~]+ \(\d+\)), which is self-deadlocked$", r"，该锁由 \1 持有，而它已自死锁"),
    _p(r", held by ([!-~]+ \(\d+\)), which is one of an ABBA deadlock$",
       r"，该锁由 \1 持有，而它陷入了 ABBA 死锁"),
    _p(r", held by ([!-~]+ \(\d+\)), which is one of a deadlock cycle of (\d+) tasks$",
       r"，该锁由 \1 持有，而它处于 \2 个任务构成的死锁环中"),
    _p(r", held by ([!-~]+ \(\d+\)), which sleeps in ([!-~]+\(\)) in ([!-~]+) \(state ([!-~]+)\)",
       r"，该锁由 \1 持有，它在 \3 中睡眠于 \2（状态 \4）"),
    _p(r", held by ([!-~]+ \(\d+\)), which runs on CPU (\d+) in ([!-~]+)",
       r"，该锁由 \1 持有，它正在 CPU \2 上运行 \3"),
    _p(r", held by ([!-~]+ \(\d+\)), which runs in ([!-~]+)", r"，该锁由 \1 持有，它正在运行 \2"),
    _p(r", held by ([!-~]+ \(\d+\)), which is runnable \(state R, waiting for a CPU\) in ([!-~]+)",
       r"，该锁由 \1 持有，它在 \2 中处于可运行状态（状态 R，等待 CPU）"),
    _p(r", held by ([!-~]+ \(\d+\)), which is in state ([!-~]+) in ([!-~]+)",
       r"，该锁由 \1 持有，它在 \3 中处于状态 \2"),
    _p(r", held by ([!-~]+ \(\d+\)), whose task or stack is absent from the dump \((.+?)\)",
       r"，该锁由 \1 持有，但它的任务或栈不在转储中（\2）"),
    _p(r", held by task (0x[0-9a-f]+), whose task or stack is absent from the dump \((.+?)\)",
       r"，该锁由任务 \1 持有，但它的任务或栈不在转储中（\2）"),
    _p(r", held by ([!-~]+ \(\d+\)), which ", r"，该锁由 \1 持有，它"),
    _p(r" holding ([!-~]+)$", r"，并持有 \1"),
    _p(r"^([!-~]+ \(\d+\)) sleeps in ([!-~]+\(\)) in ([!-~]+) \(state ([!-~]+)\)",
       r"\1 在 \3 中睡眠于 \2（状态 \4）"),
    _p(r"a (mutex|rw_semaphore|semaphore|completion|folio lock|bit wait) \(its address is (.+?)\)",
       lambda m: f"一个 {m[1]}（其地址{_FOUND.get(m[2], m[2])}）"),
    _p(r" \(no owner: unlocked, or being handed off\)", "（没有持有者：已解锁，或正在移交）"),
    _p(r" \(read-locked: the owner field names the last reader, which may have left\)",
       "（读锁定：owner 字段记录的是最后一个读者，它可能已经离开）"),
    _p(r" \(a completion has no owner: whoever should call complete\(\) is not recorded\)",
       "（completion 没有持有者：没有记录应当调用 complete() 的是谁）"),
    _p(r" \(a semaphore has no owner\)", "（信号量没有持有者）"),
    _p(r" \(a folio/page lock has no owner: the task that locked it is not recorded\)",
       "（folio/页锁没有持有者：没有记录是哪个任务锁住了它）"),
)

# Words of the checks' English grammar: one left in a translated text means a phrase no rule knew.
ENGLISH = re.compile(r"\b(?:the|which|waits|held|holds|with|while|from|that|stuck|runs|spinning|wrote|"
                     r"dump|task|tasks|blocked|found|when|inside|its|of|by|for|and)\b")


def _translate(text: str) -> str:
    if text in SENTENCES:
        return SENTENCES[text]
    for pattern, repl in PHRASES:
        text = pattern.sub(repl, text)
    return text


def finding_text(claim: str, detail: str, lang: str) -> tuple[str, str]:
    """A finding's (claim, detail) as a reader of ``lang`` sees it."""
    if lang != "zh":
        return claim, detail
    return _translate(claim), _translate(detail) if detail else detail


__all__ = ["ENGLISH", "PHRASES", "SENTENCES", "finding_text"]
