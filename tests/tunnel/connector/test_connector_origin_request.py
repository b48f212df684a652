"""originRequest: cloudflared's defaults, overrides, durations and error messages."""

from __future__ import annotations

import ipaddress
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.origin_request import (
    DEFAULT_ORIGIN_REQUEST,
    ORIGIN_REQUEST_KEYS,
    AccessSettings,
    IpRule,
    OriginRequest,
    describe_changes,
    parse_origin_request,
)
from ramparts.tunnel.connector.values import (
    HostPort,
    Where,
    duration,
    format_duration,
    host_port,
)

WHERE = Where("originRequest", rule=1, hostname="app.example.com")


def test_defaults_are_cloudflareds() -> None:
    d = DEFAULT_ORIGIN_REQUEST
    assert (d.connect_timeout, d.tls_timeout, d.tcp_keep_alive) == (30.0, 10.0, 30.0)
    assert (d.keep_alive_connections, d.keep_alive_timeout) == (100, 90.0)
    assert d.no_tls_verify is False
    assert d.http_host_header is None
    assert d.origin_server_name is None
    assert d.ca_pool is None
    assert d.access is None
    assert d.proxy_address == "127.0.0.1"


def test_every_key_parses(tmp_path: Path) -> None:
    raw = {
        "connectTimeout": "5s",
        "tlsTimeout": "1m30s",
        "tcpKeepAlive": 15,
        "noHappyEyeballs": True,
        "keepAliveConnections": 8,
        "keepAliveTimeout": "250ms",
        "httpHostHeader": "internal.example",
        "originServerName": "origin.example",
        "matchSNItoHost": True,
        "caPool": "certs/ca.pem",
        "noTLSVerify": True,
        "disableChunkedEncoding": True,
        "http2Origin": True,
        "bastionMode": False,
        "proxyAddress": "127.0.0.2",
        "proxyPort": 1080,
        "proxyType": "socks",
        "ipRules": [{"prefix": "10.0.0.0/8", "ports": [80, 443], "allow": True}],
        "access": {"required": True, "teamName": "acme", "audTag": ["aud1", "aud2"]},
    }
    assert set(raw) == set(ORIGIN_REQUEST_KEYS)
    settings_ = parse_origin_request(raw, DEFAULT_ORIGIN_REQUEST, WHERE, tmp_path)
    assert settings_ == OriginRequest(
        connect_timeout=5.0,
        tls_timeout=90.0,
        tcp_keep_alive=15.0,
        no_happy_eyeballs=True,
        keep_alive_connections=8,
        keep_alive_timeout=0.25,
        http_host_header="internal.example",
        origin_server_name="origin.example",
        match_sni_to_host=True,
        ca_pool=str(tmp_path / "certs/ca.pem"),
        no_tls_verify=True,
        disable_chunked_encoding=True,
        http2_origin=True,
        bastion_mode=False,
        proxy_address="127.0.0.2",
        proxy_port=1080,
        proxy_type="socks",
        ip_rules=(IpRule(ipaddress.ip_network("10.0.0.0/8"), (80, 443), True),),
        access=AccessSettings(True, "acme", ("aud1", "aud2")),
    )


def test_overrides_apply_per_key_on_the_base() -> None:
    base = parse_origin_request(
        {"connectTimeout": "5s", "noTLSVerify": True}, DEFAULT_ORIGIN_REQUEST, WHERE
    )
    rule = parse_origin_request({"noTLSVerify": False, "keepAliveTimeout": "1m"}, base, WHERE)
    assert rule.connect_timeout == 5.0  # inherited from the base
    assert rule.no_tls_verify is False  # overridden
    assert rule.keep_alive_timeout == 60.0
    assert parse_origin_request(None, base, WHERE) is base
    assert parse_origin_request({"connectTimeout": None}, base, WHERE) == base  # "key:" alone


def test_access_replaces_as_a_whole() -> None:
    base = parse_origin_request(
        {"access": {"required": True, "audTag": ["a"]}}, DEFAULT_ORIGIN_REQUEST, WHERE
    )
    rule = parse_origin_request({"access": {"required": False}}, base, WHERE)
    assert rule.access == AccessSettings(required=False)


def test_absolute_and_home_ca_pool_paths(tmp_path: Path) -> None:
    got = parse_origin_request({"caPool": "/etc/ca.pem"}, DEFAULT_ORIGIN_REQUEST, WHERE, tmp_path)
    assert got.ca_pool == "/etc/ca.pem"
    got = parse_origin_request({"caPool": "~/ca.pem"}, DEFAULT_ORIGIN_REQUEST, WHERE, tmp_path)
    assert got.ca_pool == str(Path("~/ca.pem").expanduser())


PREFIX = "ingress rule 1 (app.example.com): originRequest"


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        (5, ": expected a mapping, got a number"),
        (
            {"connectTimeOut": "1s"},
            ": unknown key 'connectTimeOut' (did you mean 'connectTimeout'?)",
        ),
        ({"bogus": 1}, ": unknown key 'bogus'"),
        ({"connectTimeout": "3x"}, ".connectTimeout: invalid duration '3x'"),
        ({"connectTimeout": "30"}, ".connectTimeout: invalid duration '30'"),
        ({"connectTimeout": "-5s"}, ".connectTimeout: invalid duration '-5s'"),
        ({"connectTimeout": -5}, ".connectTimeout: must be a duration of zero or more, got -5"),
        ({"tlsTimeout": True}, ".tlsTimeout: expected a duration like 30s or 1m30s, got a boolean"),
        ({"tlsTimeout": [1]}, ".tlsTimeout: expected a duration like 30s or 1m30s, got a list"),
        ({"keepAliveTimeout": "9000h"}, ".keepAliveTimeout: is longer than a year"),
        ({"tcpKeepAlive": float("nan")}, ".tcpKeepAlive: must be a duration of zero or more"),
        ({"noTLSVerify": "yes"}, ".noTLSVerify: expected true or false, got a string"),
        (
            {"keepAliveConnections": -1},
            ".keepAliveConnections: must be between 0 and 10000, got -1",
        ),
        (
            {"keepAliveConnections": 1.5},
            ".keepAliveConnections: expected a whole number, got a number",
        ),
        (
            {"keepAliveConnections": True},
            ".keepAliveConnections: expected a whole number, got a boolean",
        ),
        ({"httpHostHeader": "a b"}, ".httpHostHeader: must be visible ASCII without spaces"),
        (
            {"httpHostHeader": "a\r\nX-Evil: 1"},
            ".httpHostHeader: must be visible ASCII without spaces",
        ),
        ({"httpHostHeader": ""}, ".httpHostHeader: must not be empty"),
        ({"originServerName": "x" * 300}, ".originServerName: longer than 255 characters"),
        ({"caPool": 3}, ".caPool: expected a string, got a number"),
        ({"caPool": "a\x00b"}, ".caPool: must not contain a NUL character"),
        ({"proxyType": "http"}, ".proxyType: expected '' or 'socks', got 'http'"),
        ({"proxyPort": 70000}, ".proxyPort: must be between 0 and 65535, got 70000"),
        ({"ipRules": {}}, ".ipRules: expected a list, got a mapping"),
        ({"ipRules": [{"prefix": "x"}]}, ".ipRules[0].prefix: not an IP prefix: 'x'"),
        (
            {"ipRules": [{"prefix": "10.0.0.0/8", "ports": [0]}]},
            ".ipRules[0].ports[0]: must be between 1",
        ),
        ({"ipRules": [{"prefx": "10.0.0.0/8"}]}, ".ipRules[0]: unknown key 'prefx'"),
        (
            {"access": {"requird": True}},
            ".access: unknown key 'requird' (did you mean 'required'?)",
        ),
        (
            {"access": {"required": "true"}},
            ".access.required: expected true or false, got a string",
        ),
        (
            {"access": {"audTag": "aud1"}},
            ".access.audTag: expected a list of strings, got a string",
        ),
        ({"access": {"audTag": ["a", 1]}}, ".access.audTag[1]: expected a string, got a number"),
        ({"access": {"teamName": 5}}, ".access.teamName: expected a string, got a number"),
    ],
)
def test_errors_name_rule_and_field(raw: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_origin_request(raw, DEFAULT_ORIGIN_REQUEST, WHERE)
    assert str(info.value).startswith(PREFIX + message), str(info.value)
    assert info.value.rule == 1


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("0", 0.0),
        ("30s", 30.0),
        ("1m30s", 90.0),
        ("1.5h", 5400.0),
        ("250ms", 0.25),
        ("100us", 1e-4),
        ("100µs", 1e-4),
        ("1h2m3s4ms", 3723.004),
        (".5s", 0.5),
        (10, 10.0),
        (2.5, 2.5),
    ],
)
def test_durations(value: object, seconds: float) -> None:
    assert duration(value, Where("x")) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0, "0s"),
        (0.25, "250ms"),
        (30, "30s"),
        (90, "1m30s"),
        (3600, "1h"),
        (3723, "1h2m3s"),
        (1.5, "1.5s"),
    ],
)
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert duration(text, Where("x")) == pytest.approx(seconds)


@pytest.mark.parametrize(
    ("text", "parsed"),
    [
        ("127.0.0.1:2000", HostPort("127.0.0.1", 2000)),
        ("localhost:0", HostPort("localhost", 0)),
        ("[::1]:9090", HostPort("::1", 9090)),
    ],
)
def test_host_port(text: str, parsed: HostPort) -> None:
    assert host_port(text, Where("metrics")) == parsed
    assert str(parsed) == text


@pytest.mark.parametrize(
    "text", ["localhost", ":80", "::1:80", "[::1]80", "h:70000", "h:", "h:8x", "h:" + "9" * 5000]
)
def test_host_port_errors(text: str) -> None:
    with pytest.raises(ConfigError, match=r"^metrics: "):
        host_port(text, Where("metrics"))


def test_describe_changes_uses_cloudflared_names() -> None:
    rule = parse_origin_request(
        {
            "connectTimeout": "1m30s",
            "noTLSVerify": True,
            "access": {"required": True, "audTag": ["x"]},
        },
        DEFAULT_ORIGIN_REQUEST,
        WHERE,
    )
    assert describe_changes(rule, DEFAULT_ORIGIN_REQUEST) == [
        "connectTimeout=1m30s",
        "noTLSVerify=true",
        "access=required=true,audTag=x",
    ]
    assert describe_changes(DEFAULT_ORIGIN_REQUEST, DEFAULT_ORIGIN_REQUEST) == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


@settings(max_examples=400, deadline=None)
@given(
    raw=st.dictionaries(
        st.one_of(st.sampled_from(ORIGIN_REQUEST_KEYS), st.text(max_size=8)),
        json_values,
        max_size=5,
    )
)
def test_fuzz_origin_request(raw: dict[str, object]) -> None:
    try:
        result: object = parse_origin_request(raw, DEFAULT_ORIGIN_REQUEST, WHERE)
    except ConfigError as exc:
        result = str(exc)
    assert isinstance(result, OriginRequest) or str(result).startswith(PREFIX)
