"""The access repository's contract (store.access: tokens, audit, UI users, sessions, rate limits,
secrets), on SQLite and PostgreSQL alike."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import func, select

from crashhub.errors import StoreError
from crashhub.store import SqlStore
from crashhub.store import _models as m


def test_ui_users_add_replace_list_delete(store: SqlStore) -> None:
    assert store.access.get_ui_user("alice") is None and store.access.list_ui_users() == []
    assert store.access.put_ui_user("alice", "admin", "$argon2id$one")
    first = store.access.get_ui_user("alice")
    assert first is not None and (first.role, first.password_hash) == ("admin", "$argon2id$one")
    assert first.created_at == first.updated_at > 0
    # replace=False (the import of an old ui-users.json) never overwrites a user already in the database
    assert not store.access.put_ui_user("alice", "viewer", "$argon2id$old", replace=False)
    assert store.access.get_ui_user("alice") == first
    time.sleep(0.01)
    assert store.access.put_ui_user("alice", "viewer", "$argon2id$two")
    second = store.access.get_ui_user("alice")
    assert second is not None and (second.role, second.password_hash) == ("viewer", "$argon2id$two")
    assert second.created_at == first.created_at and second.updated_at > first.updated_at
    store.access.put_ui_user("bob", "viewer", "$argon2id$b")
    assert [u.name for u in store.access.list_ui_users()] == ["alice", "bob"]
    assert store.access.delete_ui_user("alice") and not store.access.delete_ui_user("alice")
    assert [u.name for u in store.access.list_ui_users()] == ["bob"]


def test_rate_hit_counts_up_to_the_limit(store: SqlStore) -> None:
    for _ in range(3):
        assert store.access.rate_hit("login:user:alice", 300, 3) is None
    wait = store.access.rate_hit("login:user:alice", 300, 3)
    assert wait is not None and 0 < wait <= 300
    # the window is aligned on multiples of its length: the wait is until that window's end
    assert abs(time.time() + wait - (time.time() // 300 + 1) * 300) < 2
    assert store.access.rate_hit("login:user:bob", 300, 3) is None  # another key, another counter
    assert store.access.rate_hit("login:user:alice", 300, 0) is None  # limit 0: no limit
    assert store.access.rate_hit("login:user:alice", 0, 3) is None  # window 0: no limit


def test_rate_hit_taking_back_and_new_windows(store: SqlStore) -> None:
    key = "upload:token:t1"
    # A window of its own length, aligned: wait for the start of a fresh one so the test never
    # straddles two windows by chance.
    time.sleep(0.8 - time.time() % 0.8 + 0.01)
    assert store.access.rate_hit(key, 0.8, 2) is None
    assert store.access.rate_hit(key, 0.8, 2) is None
    store.access.rate_hit(key, 0.8, 2, cost=-1)  # a hit taken back (a login that succeeded)
    assert store.access.rate_hit(key, 0.8, 2) is None
    assert store.access.rate_hit(key, 0.8, 2) is not None
    time.sleep(0.8 - time.time() % 0.8 + 0.01)
    assert store.access.rate_hit(key, 0.8, 2) is None  # a new window starts from zero
    # taking back where nothing was counted makes no row and no negative count
    store.access.rate_hit("never-hit", 60, 5, cost=-3)
    with store.db.read() as s:
        assert (
            s.scalar(select(func.count()).select_from(m.RateLimit).where(m.RateLimit.key == "never-hit")) == 0
        )


def test_rate_hit_prunes_old_windows(store: SqlStore) -> None:
    store.access.rate_hit("a", 0.2, 5)
    store.access.rate_hit("b", 3600, 5)
    time.sleep(0.25)
    store.access._pruned_at = 0.0  # the next hit may prune (at most once a minute otherwise)
    store.access.rate_hit("c", 3600, 5)
    with store.db.read() as s:
        keys = set(s.scalars(select(m.RateLimit.key)))
    assert keys == {"b", "c"}


def test_rate_hit_rejects_bad_keys(store: SqlStore) -> None:
    with pytest.raises(StoreError, match="255"):
        store.access.rate_hit("k" * 256, 60, 5)
    with pytest.raises(StoreError):
        store.access.rate_hit("", 60, 5)


def test_rate_hit_is_atomic_across_nodes(store: SqlStore) -> None:
    """Two store instances (two hub nodes) hitting one key from 8 threads: exactly ``limit`` pass."""
    other = SqlStore(store.url)
    try:
        allowed: list[bool] = []
        lock = threading.Lock()
        errors: list[BaseException] = []

        def worker(st: SqlStore) -> None:
            try:
                for _ in range(10):
                    ok = st.access.rate_hit("race", 3600, 25) is None
                    with lock:
                        allowed.append(ok)
            except BaseException as e:  # reported below
                errors.append(e)

        threads = [threading.Thread(target=worker, args=(store if i % 2 else other,)) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors, errors
        assert len(allowed) == 80 and sum(allowed) == 25
    finally:
        other.close()


def test_rate_count_reads_the_current_window(store: SqlStore) -> None:
    assert store.access.rate_count("login-user:carol", 300) == 0
    for _ in range(4):
        store.access.rate_hit("login-user:carol", 300, 2)
    assert store.access.rate_count("login-user:carol", 300) == 4
    store.access.rate_hit("login-user:carol", 300, 2, cost=-1)
    assert store.access.rate_count("login-user:carol", 300) == 3
    assert (
        store.access.rate_count("login-user:carol", 0) == 0 and store.access.rate_count("k" * 256, 300) == 0
    )


def test_ended_sessions_are_kept_until_they_expire(store: SqlStore) -> None:
    assert not store.access.session_revoked("n1")
    store.access.revoke_session("n1", time.time() + 3600)
    store.access.revoke_session("n1", time.time() + 3600)  # a second logout of the same session
    store.access.revoke_session("old", time.time() - 1)
    assert store.access.session_revoked("n1") and store.access.session_revoked("old")
    store.access.revoke_session("n2", time.time() + 3600)  # prunes what has expired
    assert store.access.session_revoked("n2") and not store.access.session_revoked("old")
    with store.db.read() as s:  # type: ignore[attr-defined]
        assert s.scalar(select(func.count()).select_from(m.SessionRevocation)) == 2
    with pytest.raises(StoreError):
        store.access.revoke_session("x" * 65, time.time())


def test_tokens_and_audit(store: SqlStore) -> None:
    t = store.access.create_token("ci", "host", "h" * 64)
    assert store.access.token_by_hash("h" * 64) == t
    assert store.access.revoke_token(t.id)
    assert store.access.token_by_hash("h" * 64) is None
    store.access.audit("me", "download-dump", "c1/vmcore", {"size": 3})
    (a,) = store.access.list_audit()
    assert (a.actor, a.action, a.target, a.detail) == ("me", "download-dump", "c1/vmcore", {"size": 3})


def test_a_token_is_bound_to_one_host(store: SqlStore) -> None:
    made = store.access.create_token("web1", "host", "a" * 64, host="web1")
    assert made.host == "web1" and store.access.token_by_hash("a" * 64) == made
    # A bound token stays bound: a later bind to another host answers the host it already has.
    assert store.access.bind_token(made.id, "web2") == "web1"
    free = store.access.create_token("old", "host", "b" * 64)
    assert free.host is None
    assert store.access.bind_token(free.id, "db1") == "db1"
    assert store.access.bind_token(free.id, "db2") == "db1"
    got = store.access.token_by_hash("b" * 64)
    assert got is not None and got.host == "db1"
    assert [t.host for t in store.access.list_tokens()] == ["web1", "db1"]
    assert store.access.bind_token("t-nope", "x") is None


def test_a_first_use_does_not_take_another_tokens_host(store: SqlStore) -> None:
    own = store.access.create_token("web1", "host", "d" * 64, host="web1")
    stray = store.access.create_token("stray", "host", "f" * 64)
    assert store.access.bind_token(stray.id, "web1") is None
    got = store.access.token_by_hash("f" * 64)
    assert got is not None and got.host is None
    assert store.access.revoke_token(own.id)
    assert store.access.bind_token(stray.id, "web1") == "web1"


def test_racing_first_uses_bind_one_host(store: SqlStore) -> None:
    t = store.access.create_token("race", "host", "c" * 64)
    results: list[str | None] = []
    threads = [
        threading.Thread(target=lambda h=h: results.append(store.access.bind_token(t.id, h)))  # type: ignore[misc]
        for h in ("h1", "h2", "h3", "h4")
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert len(set(results)) == 1 and results[0] in {"h1", "h2", "h3", "h4"}


def test_shared_secret(store: SqlStore) -> None:
    assert store.access.get_or_create_secret("ui-session", "aa" * 32) == "aa" * 32
    assert store.access.get_or_create_secret("ui-session", "bb" * 32) == "aa" * 32  # the second node agrees
    assert store.access.get_or_create_secret("other", "cc" * 32) == "cc" * 32
