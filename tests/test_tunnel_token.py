"""The connector token: round trip, and bad tokens are refused with TokenError only."""

from __future__ import annotations

import base64
import contextlib
import json
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.tunnel.token import ConnectorToken, TokenError

GOOD = ConnectorToken(
    tunnel_id=str(uuid.uuid4()),
    secret="s3cr3t",
    edge_addresses=("127.0.0.1:7844", "[::1]:7844"),
    ca_fingerprint="sha256:" + "ab" * 32,
    team_domain="acme.localhost",
)


def test_round_trip() -> None:
    encoded = GOOD.encode()
    assert ConnectorToken.decode(encoded) == GOOD
    assert ConnectorToken.decode(f"  {encoded}\n") == GOOD
    body = json.loads(base64.b64decode(encoded))
    assert body["t"] == GOOD.tunnel_id and body["e"] == list(GOOD.edge_addresses)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"v": 2},
        {"v": 1, "t": "not-a-uuid", "s": "x", "e": ["a:1"], "ca": "sha256:00"},
        {"v": 1, "t": str(uuid.uuid4()), "s": "", "e": ["a:1"], "ca": "sha256:00"},
        {"v": 1, "t": str(uuid.uuid4()), "s": "x", "e": [], "ca": "sha256:00"},
        {"v": 1, "t": str(uuid.uuid4()), "s": "x", "e": ["a:1"], "ca": "md5:00"},
        [1, 2],
    ],
)
def test_invalid_bodies(body: object) -> None:
    with pytest.raises(TokenError):
        ConnectorToken.decode(base64.b64encode(json.dumps(body).encode()).decode())


@given(st.text(max_size=300))
def test_arbitrary_text_only_raises_token_error(text: str) -> None:
    with contextlib.suppress(TokenError):
        ConnectorToken.decode(text)


@given(st.binary(max_size=300))
def test_arbitrary_base64_payloads_only_raise_token_error(payload: bytes) -> None:
    with contextlib.suppress(TokenError):
        ConnectorToken.decode(base64.b64encode(payload).decode())
