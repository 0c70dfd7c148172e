"""The hosts repository's contract (store.hosts), on SQLite and PostgreSQL alike."""

from __future__ import annotations

from tests.store.contract import crash

from crashhub.store import Store


def test_hosts_and_kernels(store: Store) -> None:
    store.hosts.report_host(
        "web1",
        release="6.1.0-56-cloud-amd64",
        build_id="ab12",
        hardware="QEMU",
        machine="x86_64",
        agent_version="0.1",
        kdump={"ok": True},
    )
    store.hosts.report_host(
        "web1",
        release="6.1.0-56-cloud-amd64",
        build_id="ab12",
        hardware="QEMU",
        machine="x86_64",
        agent_version="0.2",
        kdump=None,
    )
    store.crashes.add_crash(crash("1", host="web2"))
    hosts = {h.name: h for h in store.hosts.list_hosts()}
    assert hosts["web1"].agent_version == "0.2" and hosts["web1"].crashes == 0
    assert hosts["web2"].crashes == 1
    (k,) = store.hosts.list_kernels()
    assert (k.release, k.crashes, k.hosts, k.build_ids) == ("6.1.0-56-cloud-amd64", 1, 2, ("ab12",))
