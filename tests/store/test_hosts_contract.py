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


def test_host_addresses_map_one_host_each(store: Store) -> None:
    """The address a report came from maps netconsole senders to the host: only while exactly one
    host's last report came from it, and a report without one keeps the address recorded."""
    def report(name: str, address: str | None) -> None:
        store.hosts.report_host(name, release=None, build_id=None, hardware=None, machine=None,
                                agent_version=None, kdump=None, address=address)

    report("web1", "10.0.0.5")
    report("web2", "10.0.0.6")
    report("nat-a", "192.0.2.1")
    report("nat-b", "192.0.2.1")
    assert store.hosts.host_addresses() == {"10.0.0.5": "web1", "10.0.0.6": "web2"}
    report("web1", None)  # a report that came through no network keeps the address
    report("web2", "10.0.0.7")  # a new lease replaces the old address
    assert store.hosts.host_addresses() == {"10.0.0.5": "web1", "10.0.0.7": "web2"}
    hosts = {h.name: h for h in store.hosts.list_hosts()}
    assert hosts["web1"].address == "10.0.0.5" and hosts["nat-b"].address == "192.0.2.1"
