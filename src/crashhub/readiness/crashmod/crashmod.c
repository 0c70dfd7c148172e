// SPDX-License-Identifier: GPL-2.0
/*
 * crashmod: the crash lab's test module. Writing a kind name to /proc/crashmod
 * crashes the kernel that way, in the writer's process context, so the crash
 * stack looks like a real syscall path (write -> proc_reg_write -> ...).
 * Kinds that need a stuck CPU start a kthread and return.
 *
 * Built with -fmacro-prefix-map (see Kbuild) so __FILE__ in BUG()/WARN()
 * messages is "crashmod/crashmod.c", never a path of the build machine.
 */
#include <linux/module.h>
#include <linux/kernel.h>
#include <linux/proc_fs.h>
#include <linux/uaccess.h>
#include <linux/kthread.h>
#include <linux/delay.h>
#include <linux/slab.h>
#include <linux/list.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/string.h>
#include <linux/smp.h>
#include <linux/irqflags.h>
#include <linux/gfp.h>
#include <linux/mm.h>
#include <linux/page_ref.h>
#include <linux/idr.h>
#include <linux/spinlock.h>

MODULE_LICENSE("GPL");
MODULE_DESCRIPTION("crashhub crash lab: crash the kernel on demand");

struct crashmod_obj {
	unsigned long id;
	unsigned long flags;
	struct list_head node;
	int refcount;		/* offset 0x20: the NULL kind writes here */
};

/* Kept in a volatile so the compiler cannot see the NULL and fold the store away. */
static struct crashmod_obj *volatile crashmod_nullobj;
static DEFINE_MUTEX(crashmod_lock);

static noinline void crashmod_null(void)
{
	struct crashmod_obj *obj = crashmod_nullobj;

	obj->refcount = 1;
}

static noinline void crashmod_bug(void)
{
	BUG_ON(crashmod_nullobj == NULL);
}

static noinline void crashmod_gpf(void)
{
	/* LIST_POISON1: what a use of an already-deleted list entry dereferences. */
	struct crashmod_obj *obj = (struct crashmod_obj *)0xdead000000000100UL;

	WRITE_ONCE(obj->refcount, 1);
}

static noinline void crashmod_warn(void)
{
	WARN(1, "crashmod: refcount underflow on object %p\n", &crashmod_nullobj);
}

static noinline void crashmod_hung(void)
{
	/*
	 * A self-deadlock: the second lock sleeps uninterruptibly forever. The unlocks
	 * (never reached) keep the second mutex_lock() from becoming a tail call, so
	 * crashmod_hung stays on the blocked task's stack.
	 */
	mutex_lock(&crashmod_lock);
	mutex_lock(&crashmod_lock);
	mutex_unlock(&crashmod_lock);
	mutex_unlock(&crashmod_lock);
}

static noinline void crashmod_list_corruption(void)
{
	static LIST_HEAD(head);
	struct crashmod_obj *obj = kzalloc(sizeof(*obj), GFP_KERNEL);

	if (!obj)
		return;
	list_add(&obj->node, &head);
	list_del(&obj->node);
	list_del(&obj->node);	/* double delete: ->next is LIST_POISON1 */
}

static noinline void crashmod_uaf(void)
{
	/*
	 * Use after free without KASAN: the freed object's hidden freelist
	 * pointer is overwritten, and a later allocation from the same per-cpu
	 * freelist follows it. The crash lands in the slab allocator, far from
	 * the culprit, as it does in the field.
	 */
	void *a, *b, *c;

	preempt_disable();
	a = kmalloc(192, GFP_ATOMIC);
	if (a) {
		kfree(a);
		memset(a, 0x41, 192);
		b = kmalloc(192, GFP_ATOMIC);
		c = kmalloc(192, GFP_ATOMIC);
		pr_info("crashmod: uaf survived (%px %px)\n", b, c);
	}
	preempt_enable();
}

static noinline int crashmod_recurse(int depth)
{
	volatile char pad[512];

	pad[0] = (char)depth;
	pad[511] = pad[0];
	if (depth > (1 << 20))	/* never reached: the 16 KiB stack ends long before */
		return 0;
	return crashmod_recurse(depth + 1) + pad[511];
}

static int crashmod_spin(void *arg)
{
	bool rcu = (bool)(unsigned long)arg;

	if (rcu)
		rcu_read_lock();
	preempt_disable();
	for (;;)
		cpu_relax();
	return 0;
}

static void crashmod_start_spinner(bool rcu)
{
	struct task_struct *t = kthread_run(crashmod_spin, (void *)(unsigned long)rcu,
					    rcu ? "crashmod_rcu" : "crashmod_spin");

	if (IS_ERR(t))
		pr_err("crashmod: kthread_run failed\n");
}

/* The CPU the irqs-off spinner runs on: the one the writer then waits for. */
static int crashmod_irqoff_cpu = -1;

static int crashmod_irqoff_spin(void *arg)
{
	/*
	 * A hard lockup: interrupts off, so the CPU takes no IPI and no timer tick.
	 * TCG has no PMU for the NMI watchdog; the lab injects an NMI from the host.
	 */
	local_irq_disable();
	WRITE_ONCE(crashmod_irqoff_cpu, smp_processor_id());
	for (;;)
		cpu_relax();
	return 0;
}

static void crashmod_ipi(void *arg)
{
}

static noinline void crashmod_nmi(void)
{
	struct task_struct *t;
	int cpu, me = get_cpu();

	/*
	 * The spinner goes on the other CPU (the lab pins the writer to CPU 0, where
	 * the host's NMI lands); the writer then calls it and waits in csd_lock_wait.
	 */
	cpu = cpumask_any_but(cpu_online_mask, me);
	put_cpu();
	if (cpu >= nr_cpu_ids) {
		pr_err("crashmod: nmi needs two CPUs\n");
		return;
	}
	t = kthread_create(crashmod_irqoff_spin, NULL, "crashmod_irqoff");
	if (IS_ERR(t))
		return;
	kthread_bind(t, cpu);
	wake_up_process(t);
	while (READ_ONCE(crashmod_irqoff_cpu) < 0)
		msleep(10);
	pr_info("crashmod: waiting for CPU %d\n", cpu);
	smp_call_function_single(cpu, crashmod_ipi, NULL, 1);
	/* Never printed; keeps the call from being a tail call, so crashmod_nmi stays on the stack. */
	pr_info("crashmod: CPU %d answered\n", cpu);
}

static noinline void crashmod_bad_page(void)
{
	/*
	 * Free a buffer whose head page still counts as mapped (as if it had been
	 * vm_insert_page()d into a user mapping that is still there): the free
	 * path's check reports "BUG: Bad page state" and taints the kernel 'B';
	 * panic_on_taint=0x20 turns that into a panic, as a fleet may set it.
	 * Order 4 (64 KiB), above PAGE_ALLOC_COSTLY_ORDER: such a page bypasses the
	 * per-cpu lists, so it is checked at once. 6.1 without CONFIG_DEBUG_VM
	 * checks an order-0..3 page only when its per-cpu list drains, later and
	 * in another task. 6.12 checks only with check_pages_enabled, which
	 * Debian's CONFIG_INIT_ON_ALLOC_DEFAULT_ON=y turns on.
	 */
	struct page *page = alloc_pages(GFP_KERNEL, 4);

	if (!page)
		return;
	atomic_set(&page->_mapcount, 0);
	__free_pages(page, 4);
	/* Reached only without panic_on_taint; also keeps __free_pages() from being a tail call. */
	pr_info("crashmod: bad page freed\n");
}

static DEFINE_SPINLOCK(crashmod_spinlock);

static noinline void crashmod_atomic_sleep(void)
{
	/*
	 * "BUG: scheduling while atomic": a sleep under a spinlock. Not fatal: the
	 * scheduler prints its report, resets the preempt count and goes on; the
	 * spin_unlock() then underflows the count and the writer faults on its
	 * next user page fault (the lab writes from a subshell for that reason).
	 */
	spin_lock(&crashmod_spinlock);
	msleep(1);
	spin_unlock(&crashmod_spinlock);
}

static DEFINE_IDA(crashmod_ida);

static noinline void crashmod_ida_double_free(void)
{
	/*
	 * An API misuse the core kernel catches with its own WARN (lib/idr.c),
	 * so the WARNING's "at" path and RIP are the kernel's, the caller ours.
	 */
	int id = ida_alloc(&crashmod_ida, GFP_KERNEL);

	if (id < 0)
		return;
	ida_free(&crashmod_ida, id);
	ida_free(&crashmod_ida, id);
	/* Reached only without panic_on_warn; also keeps ida_free() from being a tail call. */
	pr_info("crashmod: id %d freed twice\n", id);
}

/* ---- wait chains (hung_chain, abba): sleeping locks held across sleeps ---- */

static DEFINE_MUTEX(crashmod_chain_lock);
static DECLARE_COMPLETION(crashmod_chain_held);

static noinline void crashmod_hold_and_sleep(struct mutex *lock)
{
	/*
	 * The bug of hung_chain: a mutex held across a long sleep. Each msleep() ends
	 * with a context switch, so khungtaskd never reports this task itself (its
	 * switch count moves); it reports the task that waits for the mutex.
	 */
	mutex_lock(lock);
	complete(&crashmod_chain_held);
	for (;;)
		msleep(1000);
	mutex_unlock(lock);
}

static int crashmod_holder(void *arg)
{
	crashmod_hold_and_sleep(&crashmod_chain_lock);
	return 0;
}

static noinline void crashmod_hung_chain(void)
{
	struct task_struct *t = kthread_run(crashmod_holder, NULL, "crashmod_holder");

	if (IS_ERR(t))
		return;
	wait_for_completion(&crashmod_chain_held);
	/* Blocks for good; the unlock keeps mutex_lock() from being a tail call. */
	mutex_lock(&crashmod_chain_lock);
	mutex_unlock(&crashmod_chain_lock);
}

static DEFINE_MUTEX(crashmod_lock_a);
static DEFINE_MUTEX(crashmod_lock_b);
static atomic_t crashmod_abba_first = ATOMIC_INIT(0);

/* Both tasks hold their first lock before either asks for its second: a deadlock every boot. */
static void crashmod_abba_meet(void)
{
	atomic_inc(&crashmod_abba_first);
	while (atomic_read(&crashmod_abba_first) < 2)
		msleep(10);
	msleep(100);
}

static int crashmod_take_ab(void *arg)
{
	mutex_lock(&crashmod_lock_a);
	crashmod_abba_meet();
	mutex_lock(&crashmod_lock_b);
	mutex_unlock(&crashmod_lock_b);
	mutex_unlock(&crashmod_lock_a);
	return 0;
}

static int crashmod_take_ba(void *arg)
{
	mutex_lock(&crashmod_lock_b);
	crashmod_abba_meet();
	mutex_lock(&crashmod_lock_a);
	mutex_unlock(&crashmod_lock_a);
	mutex_unlock(&crashmod_lock_b);
	return 0;
}

static noinline void crashmod_abba(void)
{
	/* The writer returns: the two kthreads deadlock on their own. */
	if (IS_ERR(kthread_run(crashmod_take_ab, NULL, "crashmod_a")))
		return;
	if (IS_ERR(kthread_run(crashmod_take_ba, NULL, "crashmod_b")))
		pr_err("crashmod: kthread_run failed\n");
}

/* ---- end of wait chains ---- */

/*
 * spin_held and rcu_blocked: a CPU or a grace period held up by another task, which the
 * dump must name (the log names only the waiter).
 */
static DEFINE_SPINLOCK(crashmod_held_lock);
static int crashmod_held_cpu = -1;

static int crashmod_spin_holder(void *arg)
{
	/*
	 * Takes the lock and never lets it go. Interrupts off too (spin_lock_irq, as for a
	 * lock shared with an interrupt handler): the holder's CPU takes no watchdog tick, so
	 * the soft lockup is reported on the waiter's CPU and only the dump shows the holder.
	 */
	spin_lock_irq(&crashmod_held_lock);
	WRITE_ONCE(crashmod_held_cpu, smp_processor_id());
	for (;;)
		cpu_relax();
	spin_unlock_irq(&crashmod_held_lock);
	return 0;
}

static noinline void crashmod_spin_held(void)
{
	struct task_struct *t;
	int cpu, me = get_cpu();

	/* The holder goes on the other CPU; the writer (pinned by the lab) then waits here. */
	cpu = cpumask_any_but(cpu_online_mask, me);
	put_cpu();
	if (cpu >= nr_cpu_ids) {
		pr_err("crashmod: spin_held needs two CPUs\n");
		return;
	}
	t = kthread_create(crashmod_spin_holder, NULL, "crashmod_holder");
	if (IS_ERR(t))
		return;
	kthread_bind(t, cpu);
	wake_up_process(t);
	while (READ_ONCE(crashmod_held_cpu) < 0)
		msleep(10);
	pr_info("crashmod: CPU %d holds the lock\n", cpu);
	spin_lock(&crashmod_held_lock);
	/* Never reached; keeps spin_lock() from being a tail call. */
	spin_unlock(&crashmod_held_lock);
	pr_info("crashmod: got the lock\n");
}

static int crashmod_rcu_reading;
static struct rcu_head crashmod_rcu_head;

static int crashmod_rcu_sleeper(void *arg)
{
	/*
	 * Sleeps inside an RCU read-side critical section. With preemptible RCU (Debian's
	 * PREEMPT_DYNAMIC kernels) the task goes on its rcu_node's blkd_tasks list and holds up
	 * every grace period from then on; its CPU itself reports quiescent states.
	 */
	rcu_read_lock();
	WRITE_ONCE(crashmod_rcu_reading, 1);
	for (;;)
		msleep(60 * 1000);	/* no wakeups while the lab waits for the stall */
	rcu_read_unlock();
	return 0;
}

static void crashmod_rcu_cb(struct rcu_head *head)
{
}

static noinline void crashmod_rcu_blocked(void)
{
	struct task_struct *t = kthread_create(crashmod_rcu_sleeper, NULL, "crashmod_rcublk");

	if (IS_ERR(t)) {
		pr_err("crashmod: kthread_create failed\n");
		return;
	}
	/* On the writer's CPU, with the callback below (the lab offlines the other CPU first). */
	kthread_bind(t, raw_smp_processor_id());
	wake_up_process(t);
	while (!READ_ONCE(crashmod_rcu_reading))
		msleep(10);
	msleep(50);	/* the sleeper is now blocked in its reader */
	/* An idle guest may start no grace period for a while: ask for one, which cannot end. */
	call_rcu(&crashmod_rcu_head, crashmod_rcu_cb);
	pr_info("crashmod: reader blocked, grace period requested\n");
}

static ssize_t crashmod_write(struct file *file, const char __user *ubuf,
			      size_t count, loff_t *ppos)
{
	char kind[32];
	size_t n = min(count, sizeof(kind) - 1);

	if (copy_from_user(kind, ubuf, n))
		return -EFAULT;
	kind[n] = '\0';
	strim(kind);
	pr_info("crashmod: kind=%s comm=%s pid=%d\n", kind, current->comm, task_pid_nr(current));

	if (!strcmp(kind, "null"))
		crashmod_null();
	else if (!strcmp(kind, "bug"))
		crashmod_bug();
	else if (!strcmp(kind, "gpf"))
		crashmod_gpf();
	else if (!strcmp(kind, "warn"))
		crashmod_warn();
	else if (!strcmp(kind, "hung"))
		crashmod_hung();
	else if (!strcmp(kind, "list_corruption"))
		crashmod_list_corruption();
	else if (!strcmp(kind, "uaf"))
		crashmod_uaf();
	else if (!strcmp(kind, "stack_overflow"))
		crashmod_recurse(0);
	else if (!strcmp(kind, "softlockup"))
		crashmod_start_spinner(false);
	else if (!strcmp(kind, "rcu_stall"))
		crashmod_start_spinner(true);
	else if (!strcmp(kind, "nmi"))
		crashmod_nmi();
	else if (!strcmp(kind, "bad_page"))
		crashmod_bad_page();
	else if (!strcmp(kind, "atomic_sleep"))
		crashmod_atomic_sleep();
	else if (!strcmp(kind, "ida_double_free"))
		crashmod_ida_double_free();
	else if (!strcmp(kind, "hung_chain"))	/* wait chains */
		crashmod_hung_chain();
	else if (!strcmp(kind, "abba"))
		crashmod_abba();
	else if (!strcmp(kind, "spin_held"))
		crashmod_spin_held();
	else if (!strcmp(kind, "rcu_blocked"))
		crashmod_rcu_blocked();
	else
		return -EINVAL;
	return count;
}

static const struct proc_ops crashmod_ops = {
	.proc_write = crashmod_write,
};

static int __init crashmod_init(void)
{
	if (!proc_create("crashmod", 0200, NULL, &crashmod_ops))
		return -ENOMEM;
	return 0;
}

static void __exit crashmod_exit(void)
{
	remove_proc_entry("crashmod", NULL);
}

module_init(crashmod_init);
module_exit(crashmod_exit);
