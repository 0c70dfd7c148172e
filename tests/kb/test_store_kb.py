"""The hub's KB in the store: one node's edit seen by another at once, the old ``<data>/kb`` imported
once, and ``crashhub kb export|import`` between the store and a directory for review in git."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from crashhub.cli import main
from crashhub.kb import parse_entry
from crashhub.knowledge import KnowledgeBase
from crashhub.store import SqlStore

ENTRY = "id: {id}\ntitle: {title}\nstatus: known\nmatch:\n  kinds: [null_deref]\n  function: ^crashmod_\n"


def entry_text(entry_id: str, title: str = "crashmod writes through NULL") -> str:
    return ENTRY.format(id=entry_id, title=title)


@pytest.fixture
def two_nodes(tmp_path: Path) -> Iterator[tuple[SqlStore, SqlStore]]:
    """Two store objects on one database: what two hub nodes are to each other."""
    url = f"sqlite:///{tmp_path / 'crashhub.db'}"
    a, b = SqlStore(url), SqlStore(url)
    a.migrate()
    yield a, b
    a.close()
    b.close()


def test_an_edit_on_one_node_is_seen_by_the_other_at_once(
    two_nodes: tuple[SqlStore, SqlStore], tmp_path: Path
) -> None:
    a, b = two_nodes
    kb_a = KnowledgeBase(tmp_path / "kb", store=a)
    kb_b = KnowledgeBase(tmp_path / "kb", store=b)
    starter = len(kb_b.entries())
    kb_a.put(parse_entry(entry_text("lab-null"), "x.yaml"), by="ui:alice")
    got = kb_b.get("lab-null")
    assert got is not None and got.title == "crashmod writes through NULL" and got.path == "kb:lab-null"
    assert len(kb_b.entries()) == starter + 1
    kb_a.put(parse_entry(entry_text("lab-null", "renamed"), "x.yaml"))
    assert (kb_b.get("lab-null") or got).title == "renamed"
    assert kb_b.delete("lab-null") and kb_a.get("lab-null") is None
    assert a.kb.revision() == 3 and not (tmp_path / "kb").exists()  # no per-node file


def test_an_entry_the_loader_refuses_is_left_out_with_its_error(two_nodes: tuple[SqlStore, SqlStore],
                                                               tmp_path: Path) -> None:
    a, _ = two_nodes
    a.kb.put("broken", "id: broken\ntitle: x\nmatch:\n  title: '(unclosed'\n")  # e.g. a newer schema's
    kb = KnowledgeBase(tmp_path / "kb", store=a)
    assert kb.entries() and kb.get("broken") is None
    (err,) = kb.errors
    assert "kb:broken" in str(err) and "title" in str(err)


def test_the_first_start_imports_the_old_directory_once(
    two_nodes: tuple[SqlStore, SqlStore], tmp_path: Path
) -> None:
    a, b = two_nodes
    old = tmp_path / "kb"
    old.mkdir()
    (old / "lab-null.yaml").write_text(entry_text("lab-null"))
    (old / "kept.yaml").write_text(entry_text("kept", "from the file"))
    (old / "bad.yaml").write_text("id: bad\nmatch: [\n")
    a.kb.put("kept", entry_text("kept", "edited in the hub"))  # the store's copy wins
    kb = KnowledgeBase(old, store=a)
    imported, kept = kb.get("lab-null"), kb.get("kept")
    assert imported is not None and kept is not None and kept.title == "edited in the hub"
    row = a.kb.get("lab-null")
    assert row is not None and row.updated_by == f"import:{old}"
    assert a.kb.get("bad") is None
    # Deleted in the hub afterwards: a restart (or a second node) does not bring it back.
    assert kb.delete("lab-null")
    KnowledgeBase(old, store=a)
    KnowledgeBase(old, store=b)
    assert a.kb.get("lab-null") is None


def test_export_and_import_through_the_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "data"
    src = tmp_path / "review"
    src.mkdir()
    (src / "lab-null.yaml").write_text(entry_text("lab-null"))
    (src / "other.yaml").write_text(entry_text("other", "another"))
    assert main(["kb", "import", str(src), "--data", str(data)]) == 0
    assert "2 entries imported" in capsys.readouterr().out
    out = tmp_path / "git"
    assert main(["kb", "export", str(out), "--data", str(data)]) == 0
    assert sorted(p.name for p in out.iterdir()) == ["lab-null.yaml", "other.yaml"]
    assert parse_entry((out / "other.yaml").read_text(), "other.yaml").title == "another"
    # A directory with a broken file is refused whole: nothing of it reaches the hub.
    (out / "other.yaml").write_text(entry_text("other", "changed"))
    (out / "broken.yaml").write_text("id: broken\nmatch: [\n")
    assert main(["kb", "import", str(out), "--data", str(data)]) == 2
    assert "nothing imported" in capsys.readouterr().err
    store = SqlStore(f"sqlite:///{data / 'crashhub.db'}")
    try:
        got = store.kb.get("other")
        assert got is not None and "another" in got.text and got.updated_by == "cli:import"
    finally:
        store.close()
