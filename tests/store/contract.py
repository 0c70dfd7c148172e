"""What the store's contract tests build crashes from (one file record each of a log and a dump)."""

from __future__ import annotations

from crashhub.store import FileRecord, NewCrash

LOG = FileRecord(name="vmcore-dmesg.txt", role="log", digest="a" * 64, size=10)
DUMP = FileRecord(name="vmcore", role="vmcore", digest="b" * 64, size=1000)


def crash(
    identity: str,
    *,
    key: str = "k1",
    host: str = "web1",
    release: str = "6.1.0-56-cloud-amd64",
    when: float | None = None,
    files: tuple[FileRecord, ...] = (LOG,),
    hw: str | None = None,
    algorithm: str = "sig:test",
) -> NewCrash:
    return NewCrash(
        identity=identity,
        host=host,
        host_source="agent",
        release=release,
        kind="null_deref",
        title=f"NULL in f ({key})",
        signature_algorithm=algorithm,
        signature_key=key,
        signature_title=f"NULL in f ({key})",
        signature_frames=("f", "g"),
        crash_time=when,
        crash_time_source="dump" if when else None,
        hardware=hw,
        report={"kind": "null_deref", "title": "NULL in f"},
        reports=1,
        source="cli",
        files=list(files),
        kb=[{"id": "generic-null", "title": "t"}],
    )
