"""The connector token: round trip, and bad tokens are refused with TokenError only."""

from __future__ import annotations

import base64
import contextlib
import json
import ssl
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.pki.ca import TeamCA
from ramparts.tunnel.token import ConnectorToken, TokenError, fingerprint_der

CA = TeamCA.create("acme")
CA_DER = ssl.PEM_cert_to_DER_cert(CA.cert_pem.decode())
GOOD = ConnectorToken(
    tunnel_id=str(uuid.uuid4()),
    secret="s3cr3t",
    edge_addresses=("127.0.0.1:7844", "[::1]:7844"),
    ca_fingerprint=CA.fingerprint,
    team_domain="acme.localhost",
    ca_der=CA_DER,
)


def test_round_trip() -> None:
    encoded = GOOD.encode()
    assert ConnectorToken.decode(encoded) == GOOD
    assert ConnectorToken.decode(f"  {encoded}\n") == GOOD
    body = json.loads(base64.b64decode(encoded))
    assert body["t"] == GOOD.tunnel_id and body["e"] == list(GOOD.edge_addresses)
    assert fingerprint_der(CA_DER) == CA.fingerprint
    assert ConnectorToken.decode(encoded).ca_pem == CA.cert_pem


def test_a_ca_that_does_not_match_the_fingerprint_is_refused() -> None:
    other = ssl.PEM_cert_to_DER_cert(TeamCA.create("evil").cert_pem.decode())
    body = json.loads(base64.b64decode(GOOD.encode()))
    body["cac"] = base64.b64encode(other).decode()
    with pytest.raises(TokenError, match="does not match"):
        ConnectorToken.decode(base64.b64encode(json.dumps(body).encode()).decode())


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
