"""Whatever JSON arrives, the API answers with a 2xx or a clear 4xx, never a 500."""

from __future__ import annotations

from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .conftest import Api

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=80),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=12,
)
bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"name": json_values}),
    st.fixed_dictionaries({"name": st.text(max_size=100)}),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(body=bodies)
def test_create_tunnel_never_fails_with_5xx(api: Api, body: object) -> None:
    response = api.client.post("/api/v1/tunnels", json=body, headers=api.auth)
    assert response.status_code in (201, 409, 422), response.text
    assert "error" in response.json() or response.status_code == 201


@settings(
    max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(raw=st.binary(max_size=200), ref=st.text(max_size=80))
def test_raw_bodies_and_odd_paths(api: Api, raw: bytes, ref: str) -> None:
    headers = {**api.auth, "Content-Type": "application/json"}
    response = api.client.post("/api/v1/tokens", content=raw, headers=headers)
    assert response.status_code in (201, 400, 409, 422), response.text
    if response.status_code >= 400:
        assert response.json()["error"]["message"]
    path_ref = quote(ref, safe="") or "x"
    got = api.client.get(f"/api/v1/tunnels/{path_ref}", headers=api.auth)
    assert got.status_code in (200, 404, 422), got.text
