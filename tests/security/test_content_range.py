"""Resumable dump uploads under any ``Content-Range``: a 2xx/4xx answer, never a 5xx."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.security.conftest import SecHub

NUM = st.integers(0, 2**70).map(str) | st.sampled_from(["0", "1", "-1", "00", "9" * 40, "0x10", "1e3", ""])
STRUCTURED = st.builds(lambda a, b, t, sp: f"bytes{sp}{a}-{b}/{t}", NUM, NUM, NUM | st.just("*"),
                       st.sampled_from([" ", "  ", "", "\t", "="]))
ANY_TEXT = st.text(st.characters(min_codepoint=32, max_codepoint=255), max_size=60)


@settings(max_examples=150, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(rng=STRUCTURED | ANY_TEXT, body=st.binary(max_size=300), role=st.sampled_from(["host", "admin"]),
       exact=st.sampled_from([None, "*", "end", "more", "huge"]))
def test_any_content_range_is_answered_without_a_5xx(sechub: SecHub, rng: str, body: bytes,
                                                     role: str, exact: str | None) -> None:
    crash = sechub.ids["crash_id"]
    with sechub.client(role) as c:
        if exact is not None and body:
            # A well-formed piece at the hub's offset: appends, completes (a dump that is no dump).
            at = c.get(f"/api/v1/crashes/{crash}/vmcore/upload").json()["offset"]
            end = at + len(body) - 1
            total = {"*": "*", "end": end + 1, "more": end + 1000, "huge": 2**63}[exact]
            rng = f"bytes {at}-{end}/{total}"
        headers = {"Content-Range": rng.encode("latin-1")}
        r = c.put(f"/api/v1/crashes/{crash}/vmcore", content=body, headers=headers)
        assert r.status_code < 500, (rng, r.status_code, r.text[:300])
        assert "error" in r.json() or r.status_code < 300
        state = c.get(f"/api/v1/crashes/{crash}/vmcore/upload")
        assert state.status_code == 200, state.text
