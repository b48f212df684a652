"""The connector config file: keys, credentials, YAML errors, the --url form, fuzzing."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ramparts.tunnel.connector.config import (
    CONFIG_KEYS,
    ConnectorConfig,
    credentials_json,
    default_config_paths,
    load_config,
    load_yaml,
    parse_config,
    parse_remote_config,
    quick_config,
    read_credentials_file,
)
from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.ingress import RULE_KEYS
from ramparts.tunnel.connector.origin_request import ORIGIN_REQUEST_KEYS, OriginRequest
from ramparts.tunnel.connector.services import HttpService, StatusService, UnixService
from ramparts.tunnel.connector.values import HostPort
from ramparts.tunnel.token import ConnectorToken

FULL = """\
tunnel: {tunnel}
credentials-file: creds.json
protocol: quic
ha-connections: 2
grace-period: 1m
metrics: 127.0.0.1:2000
edge-ip-version: 6
retries: 3
loglevel: warn
logfile: logs/connector.log
no-autoupdate: true
originRequest:
  connectTimeout: 10s
ingress:
  - hostname: app.example.com
    service: http://127.0.0.1:8000
  - hostname: "*.example.com"
    path: ^/api/
    service: unix:/run/api.sock
    originRequest:
      connectTimeout: 2s
  - service: http_status:404
"""


def make_token() -> ConnectorToken:
    """A valid token whatever optional fields ConnectorToken has (a CA certificate, maybe)."""
    fields = {f.name for f in dataclasses.fields(ConnectorToken)}
    der = b"test CA certificate (DER)"
    values: dict[str, object] = {
        "tunnel_id": str(uuid.uuid4()),
        "secret": "s3cret",
        "edge_addresses": ("127.0.0.1:7844", "127.0.0.2:7844"),
        "ca_fingerprint": "sha256:" + hashlib.sha256(der).hexdigest(),
        "team_domain": "acme.localhost",
    }
    if "ca_der" in fields:
        values["ca_der"] = der
    return ConnectorToken(**{k: v for k, v in values.items() if k in fields})  # type: ignore[arg-type]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_full_config(tmp_path: Path) -> None:
    token = make_token()
    write(tmp_path / "creds.json", credentials_json(token))
    config = load_config(write(tmp_path / "config.yml", FULL.format(tunnel=token.tunnel_id)))
    assert config.source == tmp_path / "config.yml"
    assert config.tunnel == token.tunnel_id
    assert config.credentials_file == tmp_path / "creds.json"
    assert config.credentials == token
    assert config.protocol == "quic"
    assert config.ha_connections == 2
    assert config.grace_period == 60.0
    assert config.metrics == HostPort("127.0.0.1", 2000)
    assert config.edge_ip_version == "6"
    assert config.retries == 3
    assert config.log_level == "warning"
    assert config.log_file == tmp_path / "logs/connector.log"
    assert config.warnings == (
        "no-autoupdate: ignored: Ramparts connectors are updated with their package",
    )
    assert config.origin_request == OriginRequest(connect_timeout=10.0)
    rules = config.ingress
    assert rules is not None
    assert [r.service for r in rules] == [
        HttpService("http://127.0.0.1:8000", False, "127.0.0.1", 8000),
        UnixService("/run/api.sock"),
        StatusService(404),
    ]
    assert rules[0].origin_request.connect_timeout == 10.0  # the file's default
    assert rules[1].origin_request.connect_timeout == 2.0  # the rule's override
    assert rules.match("x.example.com", "/api/v1")[0] == 1


def test_empty_file_gives_defaults(tmp_path: Path) -> None:
    config = load_config(write(tmp_path / "c.yml", ""))
    assert config == ConnectorConfig(source=tmp_path / "c.yml")
    assert config.ingress is None
    assert (config.protocol, config.ha_connections, config.grace_period) == ("auto", 4, 30.0)
    assert (config.edge_ip_version, config.retries, config.metrics) == ("auto", 5, None)


@pytest.mark.parametrize(("text", "protocol"), [("auto", "auto"), ("TCP", "tcp"), ("quic", "quic")])
def test_protocols(text: str, protocol: str) -> None:
    assert parse_config({"protocol": text}).protocol == protocol


def test_http2_protocol_reads_as_tcp_with_a_warning() -> None:
    config = parse_config({"protocol": "http2"})
    assert config.protocol == "tcp"
    assert config.warnings == ("protocol: 'http2' is read as 'tcp'",)


@pytest.mark.parametrize(
    ("value", "version"), [(4, "4"), ("6", "6"), ("auto", "auto"), (None, "auto")]
)
def test_edge_ip_version(value: object, version: str) -> None:
    assert parse_config({"edge-ip-version": value}).edge_ip_version == version


def test_url_key_is_the_quick_form_in_a_file() -> None:
    config = parse_config({"url": "localhost:8000", "originRequest": {"noTLSVerify": True}})
    assert config.ingress is not None
    assert len(config.ingress) == 1
    assert config.ingress[0].service == HttpService(
        "http://localhost:8000", False, "localhost", 8000
    )
    assert config.ingress[0].origin_request.no_tls_verify is True


def test_shadowed_rules_are_warnings() -> None:
    config = parse_config(
        {
            "ingress": [
                {"hostname": "*.example.com", "service": "http://127.0.0.1:1"},
                {"hostname": "app.example.com", "service": "http://127.0.0.1:2"},
                {"service": "http_status:404"},
            ]
        }
    )
    assert config.warnings == (
        "ingress rule 2 (app.example.com) is never used: rule 1 (*.example.com) takes all its"
        " requests first",
    )


# --- every validation error names where ------------------------------------------------------

RULE2 = "ingress rule 2 (app.example.com): "


def ingress_with(rule: object) -> dict[str, object]:
    return {
        "ingress": [
            {"hostname": "first.example.com", "service": "http://127.0.0.1:1"},
            rule,
            {"service": "http_status:404"},
        ]
    }


@pytest.mark.parametrize(
    ("data", "message"),
    [
        # rule fields
        (
            ingress_with({"hostname": "app.example.com", "service": "ftp://x"}),
            RULE2 + "service: unsupported scheme 'ftp'",
        ),
        (ingress_with({"hostname": "app.example.com"}), RULE2 + "service: required"),
        (
            ingress_with({"hostname": "app.example.com", "servce": "http://x"}),
            RULE2 + "unknown key 'servce' (did you mean 'service'?)",
        ),
        (
            ingress_with({"hostname": "app.example.com", "path": "(", "service": "http://x"}),
            RULE2 + "path: invalid regular expression: ",
        ),
        (
            ingress_with({"hostname": "app.example.com", "path": r"(a)\1", "service": "http://x"}),
            RULE2 + "path: invalid regular expression: backreferences are not supported",
        ),
        (
            ingress_with({"hostname": "app.example.com", "path": 5, "service": "http://x"}),
            RULE2 + "path: expected a string, got a number",
        ),
        (
            ingress_with(
                {
                    "hostname": "app.example.com",
                    "service": "http://x",
                    "originRequest": {"tlsTimeout": "x"},
                }
            ),
            RULE2 + "originRequest.tlsTimeout: invalid duration 'x'",
        ),
        (
            ingress_with({"hostname": "app.example.com:443", "service": "http://x"}),
            "ingress rule 2 (app.example.com:443): hostname: must not contain a port",
        ),
        (
            ingress_with({"hostname": "a.*.example.com", "service": "http://x"}),
            "ingress rule 2 (a.*.example.com): hostname: a wildcard may only be the whole first"
            " label, e.g. *.example.com",
        ),
        (
            ingress_with({"hostname": "*example.com", "service": "http://x"}),
            "ingress rule 2 (*example.com): hostname: a wildcard may only be the whole first label",
        ),
        (
            ingress_with({"hostname": "a..example.com", "service": "http://x"}),
            "ingress rule 2 (a..example.com): hostname: 'a..example.com' has an empty label",
        ),
        (
            ingress_with({"hostname": "a b.example.com", "service": "http://x"}),
            "ingress rule 2 (a b.example.com): hostname: invalid label 'a b'",
        ),
        (
            ingress_with({"hostname": "a/b", "service": "http://x"}),
            "ingress rule 2 (a/b): hostname: invalid label 'a/b'",
        ),
        (
            ingress_with({"hostname": "x" * 64 + ".com", "service": "http://x"}),
            "ingress rule 2 (" + "x" * 64 + ".com): hostname: invalid label 'xxx",
        ),
        (
            ingress_with({"hostname": ("a." * 127) + "com", "service": "http://x"}),
            "ingress rule 2 (" + ("a." * 40) + "…): hostname: longer than 253 characters",
        ),
        (
            ingress_with({"hostname": 5, "service": "http://x"}),
            "ingress rule 2: hostname: expected a string, got a number",
        ),
        (
            ingress_with("http://x"),
            "ingress rule 2: expected a mapping with hostname, path, service, got a string",
        ),
        # position of the catch-all
        (
            ingress_with({"service": "http://x"}),
            "ingress rule 2: hostname: missing, so this rule matches every request and rule 3"
            " after it would never be used; only the last rule may be a catch-all",
        ),
        (
            ingress_with({"hostname": "*", "service": "http://x"}),
            "ingress rule 2 (*): hostname: '*', so this rule matches every request",
        ),
        (
            {
                "ingress": [
                    {"service": "http://x"},
                    {"hostname": "a.example.com", "service": "http://x"},
                    {"service": "http://y"},
                ]
            },
            "ingress rule 1: hostname: missing, so this rule matches every request and rules 2-3",
        ),
        (
            {"ingress": [{"hostname": "a.example.com", "service": "http://x"}]},
            "ingress rule 1 (a.example.com): hostname: the last rule must match every request"
            " (no hostname, no path); add a final rule such as '- service: http_status:404'",
        ),
        (
            {"ingress": [{"path": "^/x", "service": "http://x"}]},
            "ingress rule 1: path: the last rule must match every request",
        ),
        # the ingress list
        ({"ingress": {}}, "ingress: expected a list of rules, got a mapping"),
        ({"ingress": []}, "ingress: needs at least one rule, and the last must be a catch-all"),
        ({"ingress": [{"service": "http://x"}] * 4097}, "ingress: more than 4096 rules"),
        # top-level keys
        ({"tunel": "x"}, "unknown key 'tunel' (did you mean 'tunnel'?)"),
        ({"warp-routing": {"enabled": True}}, "unknown key 'warp-routing'"),
        ({"tunnel": ""}, "tunnel: must not be empty"),
        ({"tunnel": 5}, "tunnel: expected a string, got a number"),
        ({"protocol": "http3"}, "protocol: expected auto, tcp or quic, got 'http3'"),
        ({"ha-connections": 0}, "ha-connections: must be between 1 and 64, got 0"),
        ({"ha-connections": "4"}, "ha-connections: expected a whole number, got a string"),
        ({"grace-period": "soon"}, "grace-period: invalid duration 'soon'"),
        (
            {"metrics": "localhost"},
            "metrics: expected host:port or [address]:port, got 'localhost'",
        ),
        ({"metrics": "localhost:70000"}, "metrics: invalid port '70000' (0-65535)"),
        ({"edge-ip-version": 5}, "edge-ip-version: expected 4, 6 or auto, got '5'"),
        ({"edge-ip-version": True}, "edge-ip-version: expected 4, 6 or auto, got 'True'"),
        ({"retries": -1}, "retries: must be between 0 and 1000, got -1"),
        ({"loglevel": "loud"}, "loglevel: expected one of debug, info, warn, error, got 'loud'"),
        ({"logfile": 1}, "logfile: expected a string, got a number"),
        ({"credentials-file": ["x"]}, "credentials-file: expected a string, got a list"),
        ({"originRequest": {"tlsTimeout": "x"}}, "originRequest.tlsTimeout: invalid duration 'x'"),
        ({"originRequest": []}, "originRequest: expected a mapping, got a list"),
        ({"url": "ftp://x"}, "url: unsupported scheme 'ftp'"),
        (
            {"url": "http://x", "ingress": [{"service": "http://y"}]},
            "url: cannot be combined with ingress rules",
        ),
        (["ingress"], "expected a mapping, got a list"),
        ({1: "x"}, "unknown key '1'"),
    ],
)
def test_validation_errors_name_rule_and_field(data: object, message: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(data, read_credentials=False)
    assert str(info.value).startswith(message), str(info.value)
    assert "\n" not in str(info.value)


def test_error_attributes() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(ingress_with({"hostname": "app.example.com", "service": "ftp://x"}))
    assert (info.value.rule, info.value.hostname, info.value.field) == (
        2,
        "app.example.com",
        "service",
    )
    assert info.value.reason == "unsupported scheme 'ftp'"


# --- YAML -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "ingress:\n  - hostname: *\n    service: x\n",
            "c.yml:2:16: invalid YAML: expected alphabetic or numeric character, but found"
            " '\\n' (quote a lone * as \"*\")",
        ),
        ("tunnel: a\ntunnel: b\n", "c.yml:2:1: invalid YAML: duplicate key 'tunnel'"),
        ("ingress:\n  - service: x\n   bad: 1\n", "c.yml:3:"),
        ("ingress: [\n", "c.yml:2:1: invalid YAML:"),
        (
            "a: !!python/object:os.system x\n",
            "c.yml:1:4: invalid YAML: could not determine a constructor",
        ),
        ("a: \x07\n", "c.yml: invalid YAML:"),
        ("[" * 10000, "c.yml"),
    ],
)
def test_yaml_errors_give_line_and_column(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "c.yml", text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert str(info.value).startswith(str(tmp_path / message)), str(info.value)


def test_yaml_merge_keys_are_not_duplicates() -> None:
    data = load_yaml("base: &b {service: 'http://x'}\nrule: {<<: *b, service: 'http://y'}\n")
    assert data == {"base": {"service": "http://x"}, "rule": {"service": "http://y"}}


def test_unreadable_and_oversized_files(tmp_path: Path) -> None:
    with pytest.raises(
        ConfigError, match=r"^cannot read .*missing.yml: No such file or directory$"
    ):
        load_config(tmp_path / "missing.yml")
    with pytest.raises(ConfigError, match="is larger than 1048576 bytes"):
        load_config(write(tmp_path / "big.yml", "#" * (1 << 20) + "\n"))


# --- credentials ------------------------------------------------------------------------------


def test_credentials_forms(tmp_path: Path) -> None:
    token = make_token()
    forms = {
        "token.txt": token.encode() + "\n",
        "wrapped.json": json.dumps({"token": token.encode()}),
        "fields.json": credentials_json(token),
    }
    for name, text in forms.items():
        assert read_credentials_file(write(tmp_path / name, text)) == token, name


def test_credentials_relative_to_config_and_tunnel_name(tmp_path: Path) -> None:
    token = make_token()
    write(tmp_path / "etc/creds.txt", token.encode())
    path = write(tmp_path / "etc/config.yml", "tunnel: my-tunnel\ncredentials-file: creds.txt\n")
    config = load_config(path)
    assert config.credentials == token
    assert config.tunnel == "my-tunnel"  # a name cannot be checked against the token
    assert load_config(path, read_credentials=False).credentials is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("not a token", "credentials-file: {path}: token is not base64-encoded JSON"),
        ("{", "credentials-file: {path} is not valid JSON"),
        (
            '{"AccountTag": "a", "TunnelSecret": "s", "TunnelID": "t"}',
            "credentials-file: this is a cloudflared credentials file",
        ),
        ('{"tunnel_id": "x"}', "credentials-file.secret: missing"),
        ('{"token": 5}', "credentials-file.token: expected a string, got a number"),
        ("[1]", "credentials-file: expected a mapping, got a list"),
    ],
)
def test_credentials_errors(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "creds", text)
    with pytest.raises(ConfigError) as info:
        read_credentials_file(path)
    assert str(info.value).startswith(message.format(path=path)), str(info.value)


def test_credentials_field_errors(tmp_path: Path) -> None:
    body = json.loads(credentials_json(make_token()))
    for key, bad, message in [
        (
            "edge_addresses",
            "127.0.0.1:7844",
            "credentials-file.edge_addresses: expected a list of strings",
        ),
        ("secret", 5, "credentials-file.secret: expected a string"),
        ("tunnel_id", "not-a-uuid", "token has no valid tunnel id"),
        ("extra", 1, "credentials-file: unknown key 'extra'"),
    ]:
        path = write(tmp_path / "c.json", json.dumps({**body, key: bad}))
        with pytest.raises(ConfigError) as info:
            read_credentials_file(path)
        assert message in str(info.value)


def test_missing_credentials_file_and_mismatched_tunnel(tmp_path: Path) -> None:
    path = write(tmp_path / "c.yml", "credentials-file: nope.json\n")
    with pytest.raises(ConfigError, match=r"^credentials-file: cannot read .*nope.json"):
        load_config(path)
    token = make_token()
    write(tmp_path / "t.txt", token.encode())
    other = str(uuid.uuid4())
    path = write(tmp_path / "c.yml", f"tunnel: {other}\ncredentials-file: t.txt\n")
    with pytest.raises(
        ConfigError, match=f"^tunnel: {other} is not the tunnel of credentials-file"
    ):
        load_config(path)


# --- quick form and remote configuration -------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "service"),
    [
        ("http://127.0.0.1:8000", HttpService("http://127.0.0.1:8000", False, "127.0.0.1", 8000)),
        ("localhost:8000", HttpService("http://localhost:8000", False, "localhost", 8000)),
        ("unix:/run/app.sock", UnixService("/run/app.sock")),
        ("hello_world", quick_config("hello-world").ingress[0].service),  # type: ignore[index]
    ],
)
def test_quick_config(url: str, service: object) -> None:
    config = quick_config(url)
    assert config.ingress is not None
    assert len(config.ingress) == 1
    assert config.ingress.match("anything.example", "/x") == (0, config.ingress[0])
    assert config.ingress[0].service == service


def test_quick_config_keeps_the_base_settings_and_refuses_rules() -> None:
    base = parse_config({"originRequest": {"noTLSVerify": True}, "ha-connections": 2})
    config = quick_config("https://localhost:8443", base)
    assert config.ha_connections == 2
    assert config.ingress is not None
    assert config.ingress[0].origin_request.no_tls_verify is True
    with pytest.raises(ConfigError, match=r"^--url: cannot be combined with the ingress rules"):
        quick_config("http://x", config)
    with pytest.raises(ConfigError, match=r"^--url: unsupported scheme 'ftp'"):
        quick_config("ftp://x")


def test_remote_config() -> None:
    rules = parse_remote_config(
        {
            "originRequest": {"connectTimeout": "3s"},
            "ingress": [
                {"hostname": "a.example.com", "service": "http://x:1"},
                {"service": "http_status:404"},
            ],
        }
    )
    assert rules.match("a.example.com", "/")[1].origin_request.connect_timeout == 3.0
    with pytest.raises(ConfigError, match=r"^unknown key 'warp-routing'"):
        parse_remote_config({"ingress": [], "warp-routing": {}})
    with pytest.raises(ConfigError, match=r"^ingress: expected a list of rules, got nothing"):
        parse_remote_config({})


def test_default_config_paths_follow_xdg(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path))
    assert default_config_paths() == (
        tmp_path / "ramparts/connector.yml",
        Path("/etc/ramparts/connector.yml"),
    )


# --- fuzzing ----------------------------------------------------------------------------------

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=16)
json_values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
services = st.one_of(
    st.sampled_from(
        ["http://127.0.0.1:8000", "hello_world", "http_status:404", "tcp://h:1", "unix:/s"]
    ),
    st.text(max_size=20),
    json_values,
)
rules = st.fixed_dictionaries(
    {},
    optional={
        "hostname": st.one_of(
            st.sampled_from(["a.example.com", "*.example.com", "*", ""]),
            st.text(max_size=12),
            json_values,
        ),
        "path": st.one_of(st.sampled_from(["^/api", "(", ""]), st.text(max_size=8), json_values),
        "service": services,
        "originRequest": st.dictionaries(
            st.sampled_from(ORIGIN_REQUEST_KEYS), json_values, max_size=3
        )
        | json_values,
    },
) | st.dictionaries(st.sampled_from(RULE_KEYS) | st.text(max_size=6), json_values, max_size=4)
configs = st.dictionaries(
    st.sampled_from(CONFIG_KEYS) | st.text(max_size=10),
    json_values | st.lists(rules, max_size=4),
    max_size=6,
) | st.fixed_dictionaries({"ingress": st.lists(rules, min_size=1, max_size=5)})


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=configs | json_values)
def test_fuzz_config_only_raises_config_error(data: object) -> None:
    try:
        config = parse_config(data, read_credentials=False)
    except ConfigError as exc:
        message = str(exc)
    else:
        message = ""
        assert isinstance(config, ConnectorConfig)
        if config.ingress is not None:
            assert config.ingress[-1].is_catch_all
            config.ingress.match("a.example.com", "/api")
    assert "\n" not in message


@settings(max_examples=300, deadline=None)
@given(text=st.text(max_size=200) | st.binary(max_size=200))
def test_fuzz_yaml_only_raises_config_error(text: str | bytes) -> None:
    try:
        data = load_yaml(text, "f.yml")
    except ConfigError as exc:
        message = str(exc)
    else:
        message = "f.yml"
        with contextlib.suppress(ConfigError):
            parse_config(data, read_credentials=False)
    assert message.startswith("f.yml")


def test_connector_config_imports_nothing_from_the_edge_store_or_api() -> None:
    """The connector runs on other machines with only a token (DESIGN.md §3)."""
    code = (
        "import sys\n"
        "from ramparts.tunnel.connector.config import parse_config\n"
        "parse_config({'ingress': [{'path': '^/x', 'service': 'hello_world'},"
        " {'service': 'http_status:404'}]})\n"
        "bad = [m for m in sys.modules if m.split('.')[:2] in"
        " (['ramparts', 'edge'], ['ramparts', 'store'], ['ramparts', 'api'])]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
