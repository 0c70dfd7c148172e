"""The UI's pages and forms (not in the OpenAPI document) with generated path values, query
parameters and form fields, as an admin with a valid CSRF token: a page or a 4xx, never a 5xx."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.security.conftest import SecHub, csrf_of
from tests.security.test_authz_matrix import _flat

SKIP = {"/ui/logout"}  # ends the session every later example needs


def ui_routes(app: Any) -> list[Any]:
    return sorted((r for p, r in _flat(app.routes) if not p and getattr(r, "path", "").startswith("/ui")
                   and hasattr(r, "dependant") and r.path not in SKIP), key=lambda r: r.path)


def values(hub: SecHub) -> st.SearchStrategy[str]:
    known = st.sampled_from(sorted(set(hub.ids.values())))
    numbers = st.integers(-(2**70), 2**70).map(str)
    return known | numbers | st.text(max_size=30) | st.sampled_from(["", "0", "-1", "new", "known", "../x"])


def _case(client: Any, csrf: str, case: tuple[Any, dict[str, str], dict[str, str], dict[str, str]],
          ) -> tuple[str, int, str]:
    route, path, query, form = case
    url = route.path
    for k, v in path.items():
        url = url.replace("{" + k + "}", quote(v, safe="") or "x")
    if "POST" in route.methods:
        resp = client.post(url, params=query, data={**form, "csrf": csrf})
    else:
        resp = client.get(url, params=query)
    return f"{sorted(route.methods)} {url} {query} {form}", resp.status_code, resp.text[:200]


@pytest.mark.timeout(600)
def test_ui_routes_take_any_parameters(sechub: SecHub) -> None:
    routes = ui_routes(sechub.app)
    assert len(routes) >= 20
    client = sechub.ui_client("admin")
    csrf = csrf_of(client.get("/ui/login").text)
    failures: list[str] = []
    tried = 0
    for r in routes:
        form_names = [p.name for p in r.dependant.body_params if p.name != "csrf"]
        path_names = [p.name for p in r.dependant.path_params]
        query_names = [p.name for p in r.dependant.query_params] or ["x"]
        strategy = st.tuples(
            st.just(r),
            st.fixed_dictionaries({n: values(sechub) for n in path_names}),
            st.dictionaries(st.sampled_from(query_names), values(sechub), max_size=4),
            st.dictionaries(st.sampled_from(form_names or ["x"]), values(sechub), max_size=6))

        @settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
        @given(case=strategy)
        def run(case: tuple[Any, dict[str, str], dict[str, str], dict[str, str]]) -> None:
            nonlocal tried
            tried += 1
            what, status, text = _case(client, csrf, case)
            if status >= 500:
                failures.append(f"{what}: {status} {text}")

        run()
    client.close()
    print(f"ui fuzz: {len(routes)} routes, {tried} requests, {len(failures)} 5xx")
    assert not failures, "\n".join(failures[:20])
