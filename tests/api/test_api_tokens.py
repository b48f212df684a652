"""Admin tokens: created once-visible, listed without secrets, revoked."""

from __future__ import annotations

from .conftest import Api


def test_token_lifecycle(api: Api) -> None:
    created = api.client.post("/api/v1/tokens", json={"name": "ci"}, headers=api.auth)
    assert created.status_code == 201
    secret = created.json()["token"]
    ci = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/api/v1/tunnels", headers=ci).status_code == 200
    listed = api.client.get("/api/v1/tokens", headers=api.auth)
    assert secret not in listed.text
    assert {t["name"] for t in listed.json()} == {"admin", "ci"}
    token_id = created.json()["id"]
    assert api.client.delete(f"/api/v1/tokens/{token_id}", headers=api.auth).status_code == 204
    assert api.client.get("/api/v1/tunnels", headers=ci).status_code == 401
    events = api.client.get("/api/v1/audit?action=token.revoke", headers=api.auth).json()
    assert [e["resource_id"] for e in events] == [token_id]


def test_bad_token_requests(api: Api) -> None:
    response = api.client.post(
        "/api/v1/tokens", json={"name": "x", "expires_in_days": 0}, headers=api.auth
    )
    assert response.status_code == 422
    assert response.json()["error"]["fields"][0]["field"] == "expires_in_days"
    missing = "00000000-0000-4000-8000-000000000000"
    assert api.client.delete(f"/api/v1/tokens/{missing}", headers=api.auth).status_code == 404
    assert api.client.delete("/api/v1/tokens/NOPE!", headers=api.auth).status_code == 422
