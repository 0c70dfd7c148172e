"""The ``no_readiness`` alert: a kernel appears in the fleet (a host reports running it, or a crash
comes from it) with no readiness report, and the hub says so once per kernel, on the node holding the
tick's lease; a kernel checked before it appears raises nothing."""

from __future__ import annotations

from pathlib import Path

from tests.readiness_data import report_61
from tests.store.contract import crash

from crashhub.alerts import _rules as rules
from crashhub.alerts._engine import AlertConfig, AlertEngine
from crashhub.readiness import record_of
from crashhub.store import KernelRecord, SqlStore
from crashhub.web._alerting import AlertPump

NOW = 1_796_500_000.0
DAY = 86400.0


def test_the_rule_names_each_unchecked_kernel_once() -> None:
    k = [KernelRecord("6.1.0-57-cloud-amd64", 0, 3, ()), KernelRecord("6.12.118+deb12-cloud-amd64", 2, 1, ())]
    got = rules.periodic([], k, now=NOW, advice_hours=4, has_debuginfo=lambda _r: True,
                         base_url="http://hub", checked={"6.1.0-57-cloud-amd64"})
    (a,) = got
    assert (a.rule, a.key, a.once) == ("no_readiness", "no-readiness:6.12.118+deb12-cloud-amd64", True)
    assert "(1 host, 2 crashes)" in a.text and a.link == "http://hub/ui/kernels#unchecked"
    assert a.data == {"release": "6.12.118+deb12-cloud-amd64", "hosts": 1, "crashes": 2}
    # Without the readiness state (a caller of before): no such alert.
    assert rules.periodic([], k, now=NOW, advice_hours=4, has_debuginfo=lambda _r: True) == []
    assert "no_readiness" in rules.RULES


def _host(store: SqlStore, name: str, release: str) -> None:
    store.hosts.report_host(name, release=release, build_id=None, hardware=None, machine="x86_64",
                            agent_version="0.1", kdump=None)


def test_once_per_new_kernel_across_ticks_and_nodes(tmp_path: Path) -> None:
    store = SqlStore(f"sqlite:///{tmp_path / 'hub.db'}")
    store.migrate()
    t = [NOW]
    cfg = AlertConfig(dedup_seconds=DAY)
    for n in ("a", "b"):
        (tmp_path / n).mkdir()
    engines = [AlertEngine(tmp_path / n, config=cfg, clock=lambda: t[0], cluster=store.cluster)
               for n in ("a", "b")]
    pumps = [AlertPump(e, store, 60.0, node=n) for e, n in zip(engines, ("node-a", "node-b"), strict=True)]

    def tick() -> list[str]:
        return sorted(str(r.key) for p in pumps for r in p.tick() if r.rule == "no_readiness")

    # A kernel checked before any host runs it raises nothing when it appears.
    store.readiness.save(record_of(report_61(release="6.1.0-57-cloud-amd64")))
    _host(store, "web1", "6.1.0-57-cloud-amd64")
    assert tick() == []
    # A host reports a new kernel: one alert, from one of the two nodes.
    _host(store, "web2", "6.1.0-58-cloud-amd64")
    assert tick() == ["no-readiness:6.1.0-58-cloud-amd64"]
    # Later ticks, even past the dedup window and on another node, do not say it again.
    t[0] += 3 * DAY
    store.cluster.release_lease("alerts.tick", "node-a")
    assert tick() == []
    # A crash comes from a kernel no host reported: that kernel, once.
    store.crashes.add_crash(crash("c1", host="db7", release="6.12.118+deb12-cloud-amd64"))
    assert tick() == ["no-readiness:6.12.118+deb12-cloud-amd64"]
    assert tick() == []
    store.close()
