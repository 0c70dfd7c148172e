"""schemathesis against the hub's own OpenAPI document, in process: no generated request gets a 5xx.

Each generated case is sent twice, with a host token and with an admin token (an anonymous request
stops at the 401).  The budget per operation is small here; ``CRASHHUB_FUZZ_EXAMPLES`` raises it.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from tests.security.conftest import SecHub

EXAMPLES = int(os.environ.get("CRASHHUB_FUZZ_EXAMPLES", "12"))


def operations(hub: SecHub) -> list[Any]:
    schema = schemathesis.openapi.from_asgi("/api/v1/openapi.json", hub.app)
    return [r.ok() for r in schema.get_all_operations()]


@pytest.mark.timeout(600)
def test_no_generated_request_gets_a_5xx(sechub: SecHub) -> None:
    ops = operations(sechub)
    assert len(ops) >= 25
    tried = 0
    failures: list[str] = []
    for op in ops:
        # One Hypothesis run per operation: a 5xx is recorded, not raised, so the other operations
        # still run and the report lists every failing one.
        @settings(max_examples=EXAMPLES, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            nonlocal tried
            for role in ("host", "admin"):
                tried += 1
                try:  # in process, an unhandled exception comes out of the call instead of a 500
                    r = case.call(headers={"Authorization": f"Bearer {sechub.tokens[role]}"})
                    status, text = r.status_code, r.text[:200]
                except Exception as e:
                    status, text = 500, f"{type(e).__name__}: {e}"[:200]
                if status < 500:
                    continue
                failures.append(f"{case.method} {case.formatted_path} {case.query or ''} as {role}: "
                                f"{status} {text}")

        run()
    print(f"openapi fuzz: {len(ops)} operations, {tried} requests, {len(failures)} 5xx")
    assert not failures, "\n".join(sorted(set(failures))[:20])


def test_huge_offset_is_a_400(sechub: SecHub) -> None:
    """Issue 14 finding 9 (fixed on main): schemathesis found it, kept as a plain case."""
    with sechub.client("admin") as c:
        r = c.get("/api/v1/crashes", params={"offset": str(2**63)})
        assert r.status_code == 400, r.status_code
