"""Ingress rule services: every accepted form, every refusal, and a fuzz test."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.services import (
    HelloWorldService,
    HttpService,
    Service,
    StatusService,
    TcpService,
    UnixService,
    parse_service,
)
from ramparts.tunnel.connector.values import Where

WHERE = Where("service", rule=2, hostname="app.example.com")


@pytest.mark.parametrize(
    ("text", "service"),
    [
        ("http://127.0.0.1:8000", HttpService("http://127.0.0.1:8000", False, "127.0.0.1", 8000)),
        ("http://localhost", HttpService("http://localhost", False, "localhost", 80)),
        ("http://localhost/", HttpService("http://localhost/", False, "localhost", 80, "")),
        ("https://10.0.0.5", HttpService("https://10.0.0.5", True, "10.0.0.5", 443)),
        (
            "HTTPS://App.Internal:8443",
            HttpService("HTTPS://App.Internal:8443", True, "app.internal", 8443),
        ),
        ("http://app:8000/api/", HttpService("http://app:8000/api/", False, "app", 8000, "/api")),
        ("http://[::1]:8080", HttpService("http://[::1]:8080", False, "::1", 8080)),
        ("ws://127.0.0.1:9000", HttpService("ws://127.0.0.1:9000", False, "127.0.0.1", 9000)),
        ("wss://echo.internal", HttpService("wss://echo.internal", True, "echo.internal", 443)),
        ("unix:/run/app.sock", UnixService("/run/app.sock", tls=False)),
        ("unix+tls:/run/app.sock", UnixService("/run/app.sock", tls=True)),
        ("tcp://db.internal:5432", TcpService("tcp", "db.internal", 5432)),
        ("ssh://localhost", TcpService("ssh", "localhost", 22)),
        ("ssh://localhost:2222", TcpService("ssh", "localhost", 2222)),
        ("rdp://win.internal", TcpService("rdp", "win.internal", 3389)),
        ("smb://files.internal", TcpService("smb", "files.internal", 445)),
        ("tcp://[fd00::5]:22", TcpService("tcp", "fd00::5", 22)),
        ("http_status:404", StatusService(404)),
        ("http_status:503", StatusService(503)),
        ("hello_world", HelloWorldService()),
        ("hello-world", HelloWorldService()),
    ],
)
def test_service_forms(text: str, service: Service) -> None:
    assert parse_service(text, WHERE) == service


def test_service_text_and_authority() -> None:
    assert str(parse_service("tcp://[fd00::5]:22", WHERE)) == "tcp://[fd00::5]:22"
    http = parse_service("http://[::1]:8080", WHERE)
    assert isinstance(http, HttpService)
    assert http.authority == "[::1]:8080"
    assert str(http) == "http://[::1]:8080"
    assert str(parse_service("unix+tls:/s", WHERE)) == "unix+tls:/s"
    assert str(parse_service("http_status:418", WHERE)) == "http_status:418"


PREFIX = "ingress rule 2 (app.example.com): service: "


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, "required (an origin URL, unix:/path, http_status:NNN or hello_world)"),
        (8000, "expected a string, got a number"),
        ("", "must not be empty"),
        ("ftp://files.internal", "unsupported scheme 'ftp'"),
        ("localhost:8000", "'localhost:8000' is not an origin: expected scheme://host[:port]"),
        ("http://", "'http://' has no host"),
        ("http://x:99999", "invalid origin URL 'http://x:99999': Port out of range 0-65535"),
        ("http://x:abc", "invalid origin URL 'http://x:abc'"),
        ("http://x:0", "port 0 is not a valid origin port"),
        ("http://user:pw@x", "credentials in the origin URL are not supported"),
        ("http://x/?q=1", "the origin URL must not have a query or fragment"),
        ("http://x/#top", "the origin URL must not have a query or fragment"),
        ("http://a b", "'http://a b' contains spaces or control characters"),
        ("http://x\n", "'http://x\\n' contains spaces or control characters"),
        ("http://*.internal", "invalid host '*.internal'"),
        ("http://[zz]:80", "invalid origin URL"),
        ("tcp://db.internal", "a tcp:// service needs a port, e.g. tcp://localhost:5432"),
        ("ssh://host/x", "a ssh:// service has no path"),
        ("http_status:099", "HTTP status 99 is outside 100-599"),
        ("http_status:600", "HTTP status 600 is outside 100-599"),
        ("http_status:abc", "invalid HTTP status 'abc' (three digits)"),
        ("http_status:", "invalid HTTP status '' (three digits)"),
        ("unix:", "unix: needs a socket path, e.g. unix:/run/app.sock"),
        ("unix:/" + "a" * 107, "socket path longer than 107 bytes (the Unix limit)"),
        ("bastion", "'bastion' is not supported: use ssh:// or tcp:// services"),
        ("socks-proxy", "'socks-proxy' is not supported"),
        ("x" * 3000, "longer than 2048 characters"),
    ],
)
def test_service_errors_name_rule_and_field(value: object, reason: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_service(value, WHERE)
    assert str(info.value).startswith(PREFIX + reason), str(info.value)
    assert info.value.rule == 2
    assert info.value.field == "service"


prefixes = st.sampled_from(
    ["", "http://", "https://", "tcp://", "ssh://", "unix:", "unix+tls:", "http_status:", "ws://"]
)


@settings(max_examples=500, deadline=None)
@given(value=st.one_of(st.tuples(prefixes, st.text(max_size=40)).map("".join), st.text()))
def test_fuzz_service_returns_or_raises_config_error(value: str) -> None:
    try:
        message = str(parse_service(value, WHERE))
    except ConfigError as exc:
        message = str(exc)
        assert message.startswith(PREFIX)
    assert message
    assert "\n" not in message
