"""`ramparts connector …`: the tunnel connector and the checks of its ingress rules.

``ramparts connector ingress validate`` and ``ramparts connector ingress rule URL`` read the
same ``config.yml`` as ``ramparts connector run`` (cloudflared's ``tunnel ingress`` commands).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import click

from ramparts.cli.connector_run import run_command
from ramparts.cli.output import console, fail, print_fields, print_json, print_table
from ramparts.tunnel.connector.config import ConnectorConfig, default_config_paths, load_config
from ramparts.tunnel.connector.errors import ConfigError
from ramparts.tunnel.connector.ingress import IngressRule, IngressRules
from ramparts.tunnel.connector.origin_request import describe_changes

CONFIG_ENV = "RAMPARTS_CONNECTOR_CONFIG"

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
config_option = click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar=CONFIG_ENV,
    default=None,
    help="connector config file (default: ~/.config/ramparts/connector.yml, then /etc/ramparts/)",
)


@click.group()
def connector() -> None:
    """Run a tunnel connector beside private services (outbound only) and check its rules."""


connector.add_command(run_command)  # `ramparts connector run` (cli/connector_run.py)


@connector.group()
def ingress() -> None:
    """Check ingress rules: validate a config, or see which rule a URL matches."""


@ingress.command("validate")
@config_option
@json_option
def validate(config_path: Path | None, as_json: bool) -> None:
    """Validate the config file; print its rules, or the first error (exit 1)."""
    path = _config_path(config_path)
    config = _load(path)
    rules = _rules_of(config, path)
    if as_json:
        print_json(
            {
                "ok": True,
                "source": str(path),
                "warnings": list(config.warnings),
                "rules": [_rule_json(rule, rules) for rule in rules],
            }
        )
        return
    for warning in config.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"Validating rules from {path}")
    click.echo("OK")
    print_table(
        None,
        ["#", "HOSTNAME", "PATH", "SERVICE", "ORIGIN REQUEST"],
        [
            (
                rule.number,
                rule.hostname or "*",
                rule.path or "",
                str(rule.service),
                " ".join(describe_changes(rule.origin_request, rules.defaults)),
            )
            for rule in rules
        ],
    )


@ingress.command("rule")
@click.argument("url")
@config_option
@json_option
def rule(url: str, config_path: Path | None, as_json: bool) -> None:
    """Show which ingress rule matches URL (e.g. https://app.example.com/api/x)."""
    host, path = _host_and_path(url)
    config_file = _config_path(config_path)
    rules = _rules_of(_load(config_file), config_file)
    _, matched = rules.match(host, path)
    if as_json:
        print_json(_rule_json(matched, rules))
        return
    click.echo(f"Using rules from {config_file}")
    console.print(f"Matched rule {matched.number} of {len(rules)}")
    defaults = rules.defaults
    print_fields(
        [
            ("hostname", matched.hostname or "*"),
            ("path", matched.path or "(any)"),
            ("service", str(matched.service)),
            ("originRequest", " ".join(describe_changes(matched.origin_request, defaults))),
        ]
    )


def _config_path(given: Path | None) -> Path:
    if given is not None:
        return given
    candidates = default_config_paths()
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    looked = ", ".join(str(c) for c in candidates)
    fail(f"no connector config found (looked in {looked}); pass --config FILE")


def _load(path: Path) -> ConnectorConfig:
    try:
        return load_config(path, read_credentials=False)
    except ConfigError as exc:
        fail(str(exc))


def _rules_of(config: ConnectorConfig, path: Path) -> IngressRules:
    if config.ingress is None:
        fail(f"{path} has no ingress rules (add an 'ingress:' list ending with a catch-all)")
    return config.ingress


def _host_and_path(url: str) -> tuple[str, str]:
    """Host and percent-decoded path (what rules match) of URL; ``https://`` if none given."""
    text = url if "://" in url else "https://" + url
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 (validates the port)
    except ValueError as exc:
        fail(f"'{url}' is not a valid URL: {exc}")
    if not parts.hostname:
        fail(f"'{url}' has no hostname (e.g. https://app.example.com/path)")
    return parts.hostname, unquote(parts.path) or "/"


def _rule_json(rule: IngressRule, rules: IngressRules) -> dict[str, Any]:
    return {
        "index": rule.index,
        "number": rule.number,
        "hostname": rule.hostname,
        "path": rule.path,
        "service": str(rule.service),
        "originRequest": describe_changes(rule.origin_request, rules.defaults),
    }
