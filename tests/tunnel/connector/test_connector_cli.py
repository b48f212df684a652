"""`ramparts connector ingress validate|rule`, in-process and through the installed binary."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ramparts.cli import cli

CONFIG = """\
tunnel: demo
credentials-file: does-not-exist.json
no-autoupdate: true
ingress:
  - hostname: app.example.com
    service: http://127.0.0.1:8000
  - hostname: "*.example.com"
    path: ^/api/[a-z]+
    service: https://10.0.0.5
    originRequest:
      noTLSVerify: true
  - service: http_status:404
"""
BAD = """\
ingress:
  - hostname: first.example.com
    service: http://127.0.0.1:1
  - hostname: app.example.com
    service: ftp://files
  - service: http_status:404
"""
BINARY = Path(sys.executable).parent / "ramparts"


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "config.yml"
    path.write_text(CONFIG)
    return path


@pytest.fixture
def bad_config(tmp_path: Path) -> Path:
    path = tmp_path / "bad.yml"
    path.write_text(BAD)
    return path


def invoke(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    result = CliRunner(env={"COLUMNS": "200", **(env or {})}).invoke(cli, list(args))
    return result.exit_code, result.stdout, result.stderr


def test_validate_prints_ok_and_the_rules(config: Path) -> None:
    code, out, err = invoke("connector", "ingress", "validate", "--config", str(config))
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == f"Validating rules from {config}"
    assert lines[1] == "OK"
    table = "\n".join(lines[2:])
    for text in ["app.example.com", "*.example.com", "^/api/[a-z]+", "https://10.0.0.5"]:
        assert text in table
    assert "noTLSVerify=true" in table
    assert "http_status:404" in table
    assert "no-autoupdate: ignored" in err


def test_validate_json(config: Path) -> None:
    code, out, _ = invoke("connector", "ingress", "validate", "--config", str(config), "--json")
    assert code == 0
    body = json.loads(out)
    assert body["ok"] is True
    assert [r["service"] for r in body["rules"]] == [
        "http://127.0.0.1:8000",
        "https://10.0.0.5",
        "http_status:404",
    ]
    assert body["rules"][1] == {
        "index": 1,
        "number": 2,
        "hostname": "*.example.com",
        "path": "^/api/[a-z]+",
        "service": "https://10.0.0.5",
        "originRequest": ["noTLSVerify=true"],
    }


def test_validate_error_is_one_line_and_exit_1(bad_config: Path) -> None:
    code, out, err = invoke("connector", "ingress", "validate", "--config", str(bad_config))
    assert code == 1
    assert out == ""
    assert err == "error: ingress rule 2 (app.example.com): service: unsupported scheme 'ftp'\n"


def test_validate_yaml_error_and_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("ingress:\n  - hostname: *\n")
    code, _, err = invoke("connector", "ingress", "validate", "--config", str(path))
    assert code == 1
    assert err.startswith(f"error: {path}:2:16: invalid YAML: ")
    code, _, err = invoke("connector", "ingress", "validate", "--config", str(tmp_path / "no.yml"))
    assert code == 1
    assert "No such file or directory" in err


def test_validate_without_rules(tmp_path: Path) -> None:
    path = tmp_path / "c.yml"
    path.write_text("tunnel: demo\n")
    code, _, err = invoke("connector", "ingress", "validate", "--config", str(path))
    assert code == 1
    assert (
        err
        == f"error: {path} has no ingress rules (add an 'ingress:' list ending with a catch-all)\n"
    )


def test_config_from_env_and_default_location(config: Path, tmp_path: Path) -> None:
    code, out, _ = invoke(
        "connector", "ingress", "validate", env={"RAMPARTS_CONNECTOR_CONFIG": str(config)}
    )
    assert (code, out.splitlines()[1]) == (0, "OK")
    home = tmp_path / "xdg"
    (home / "ramparts").mkdir(parents=True)
    (home / "ramparts" / "connector.yml").write_text(CONFIG)
    code, out, _ = invoke("connector", "ingress", "validate", env={"XDG_CONFIG_HOME": str(home)})
    assert code == 0
    assert out.splitlines()[0] == f"Validating rules from {home / 'ramparts' / 'connector.yml'}"


@pytest.mark.parametrize(
    ("url", "number", "service"),
    [
        ("https://app.example.com/", 1, "http://127.0.0.1:8000"),
        ("https://APP.example.com:8443/anything?q=1", 1, "http://127.0.0.1:8000"),
        ("https://x.example.com/api/users", 2, "https://10.0.0.5"),
        ("x.example.com/api/users", 2, "https://10.0.0.5"),  # no scheme: https assumed
        ("https://x.example.com/%61pi/users", 2, "https://10.0.0.5"),  # paths are decoded
        ("https://x.example.com/web", 3, "http_status:404"),
        ("https://example.com/api/users", 3, "http_status:404"),
    ],
)
def test_rule_shows_the_matching_rule(config: Path, url: str, number: int, service: str) -> None:
    code, out, err = invoke("connector", "ingress", "rule", url, "--config", str(config))
    assert code == 0, err
    assert f"Matched rule {number} of 3" in out
    assert service in out
    code, out, _ = invoke("connector", "ingress", "rule", url, "--config", str(config), "--json")
    body = json.loads(out)
    assert (body["number"], body["index"], body["service"]) == (number, number - 1, service)


def test_rule_errors(config: Path, bad_config: Path) -> None:
    code, _, err = invoke("connector", "ingress", "rule", "https://", "--config", str(config))
    assert (code, err) == (
        1,
        "error: 'https://' has no hostname (e.g. https://app.example.com/path)\n",
    )
    code, _, err = invoke(
        "connector", "ingress", "rule", "http://h:99999/", "--config", str(config)
    )
    assert code == 1
    assert "is not a valid URL" in err
    code, _, err = invoke("connector", "ingress", "rule", "https://a/", "--config", str(bad_config))
    assert code == 1
    assert "ingress rule 2 (app.example.com): service: unsupported scheme 'ftp'" in err


@pytest.mark.skipif(not BINARY.exists(), reason="the ramparts console script is not installed")
def test_installed_binary(config: Path, bad_config: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "COLUMNS": "200"}
    ok = subprocess.run(
        [str(BINARY), "connector", "ingress", "validate", "--config", str(config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[1] == "OK"
    bad = subprocess.run(
        [str(BINARY), "connector", "ingress", "validate", "--config", str(bad_config)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert bad.returncode == 1
    assert (
        bad.stderr == "error: ingress rule 2 (app.example.com): service: unsupported scheme 'ftp'\n"
    )
    rule = subprocess.run(
        [
            str(BINARY),
            "connector",
            "ingress",
            "rule",
            "https://a.example.com/api/x",
            "--config",
            str(config),
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert rule.returncode == 0, rule.stderr
    assert json.loads(rule.stdout)["number"] == 2
