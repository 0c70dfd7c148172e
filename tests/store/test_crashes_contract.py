"""The crashes repository's contract (store.crashes), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
from dataclasses import replace

from tests.labdata import LOGS
from tests.store.contract import DUMP, LOG, crash

from crashhub.ingest._reports import in_log_order
from crashhub.store import FileRecord, Store
from crashhub.triage import parse


def test_same_identity_is_one_crash(store: Store) -> None:
    a, created = store.crashes.add_crash(crash("id1"))
    b, created2 = store.crashes.add_crash(crash("id1", host="other"))
    assert created and not created2
    assert a.id == b.id and b.host == "web1"
    bucket = store.buckets.get_bucket(a.bucket_id)
    assert bucket is not None and bucket.count == 1


def test_duplicate_attaches_missing_files_but_never_counts(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("id1"))
    kexec = FileRecord(name="kexec-dmesg.log", role="kexec_log", digest="c" * 64, size=5)
    b, created = store.crashes.add_crash(crash("id1", files=(LOG, kexec)))
    assert not created
    assert {f.name for f in b.files} == {"vmcore-dmesg.txt", "kexec-dmesg.log"}
    assert store.buckets.get_bucket(a.bucket_id).count == 1  # type: ignore[union-attr]


def test_attach_dump_once(store: Store) -> None:
    c, _ = store.crashes.add_crash(crash("1"))
    c2 = store.crashes.attach_dump(c.id, DUMP, {"format": "kdump"})
    c3 = store.crashes.attach_dump(c.id, replace(DUMP, digest="d" * 64), {"format": "elf"})
    assert c2.has_vmcore and c3.dump_facts == {"format": "kdump"}
    assert store.buckets.get_bucket(c.bucket_id).dumps == 1  # type: ignore[union-attr]
    assert store.retention.referenced_digests() == {"a" * 64, "b" * 64}


def test_list_crashes_filters(store: Store) -> None:
    store.crashes.add_crash(crash("1", host="h1"))
    c2, _ = store.crashes.add_crash(crash("2", host="h2", key="other"))
    assert [c.id for c in store.crashes.list_crashes(host="h2")] == [c2.id]
    assert [c.id for c in store.crashes.list_crashes(bucket=c2.bucket_id)] == [c2.id]
    assert len(store.crashes.list_crashes(limit=1)) == 1
    assert store.crashes.list_crashes(since=4_000_000_000.0) == []


def test_concurrent_adds_of_one_crash(store: Store) -> None:
    results: list[bool] = []
    errors: list[BaseException] = []

    def go() -> None:
        try:
            results.append(store.crashes.add_crash(crash("same"))[1])
        except BaseException as e:
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert sorted(results) == [False] * 7 + [True]
    assert store.buckets.list_buckets()[0].count == 1


def test_attach_dump_takes_the_dumps_crash_time(store: Store) -> None:
    c, _ = store.crashes.add_crash(replace(crash("t"), crash_time=1000.0, crash_time_source="dir-name"))
    got = store.crashes.attach_dump(c.id, DUMP, {"format": "kdump", "crash_time": 990})
    assert (got.crash_time, got.crash_time_source) == (990.0, "dump")
    c2, _ = store.crashes.add_crash(replace(crash("u"), crash_time=1000.0, crash_time_source="dir-name"))
    got = store.crashes.attach_dump(c2.id, DUMP, {"format": "kdump"})  # no CRASHTIME: kept as it was
    assert (got.crash_time, got.crash_time_source) == (1000.0, "dir-name")


def test_kernel_dumps_counts_kept_dumps_and_what_waits(store: Store) -> None:
    a, _ = store.crashes.add_crash(crash("a", when=100.0))
    b, _ = store.crashes.add_crash(crash("b", key="k2", when=200.0))
    store.crashes.add_crash(crash("c", key="k3"))  # no dump: not counted
    store.crashes.attach_dump(a.id, DUMP, {"build_id": "ABCD1234"})
    store.crashes.attach_dump(b.id, replace(DUMP, digest="e" * 64), {"build_id": "abcd1234"})
    store.crashes.set_crash_analysis(a.id, {"status": "done", "result": {"debuginfo": {"ok": True}}})
    store.crashes.set_crash_analysis(b.id, {"status": "done", "result": {"debuginfo": {"ok": False}}})
    [k] = store.crashes.kernel_dumps().values()
    assert (k.release, k.build_ids, k.dumps, k.waiting) == ("6.1.0-56-cloud-amd64", ("abcd1234",), 2, (b.id,))


def test_log_reports_round_trip(store: Store) -> None:
    ordered = in_log_order(parse((LOGS / "6.1-atomic_sysrq-1.vmcore-dmesg.txt").read_bytes()))
    c, _ = store.crashes.add_crash(replace(crash("two"), log_reports=ordered, reports=len(ordered)))
    assert store.crashes.log_reports(c.id) == ordered  # every field, both databases
    other, _ = store.crashes.add_crash(crash("none"))
    assert store.crashes.log_reports(other.id) == ()
    # A second arrival of the same crash stores nothing twice.
    store.crashes.add_crash(replace(crash("two"), log_reports=ordered))
    assert len(store.crashes.log_reports(c.id)) == len(ordered)
    # Deleting the crash deletes its reports (a foreign key would refuse it otherwise).
    assert store.retention.delete_crash(c.id, "test") is not None
    assert store.crashes.log_reports(c.id) == ()
