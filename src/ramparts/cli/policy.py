"""`ramparts policy create|list|show|update|delete|test` and
`ramparts list create|list|show|update|delete|refresh`: Gateway policies and their lists."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

import click

from ramparts.cli.client import ApiClient
from ramparts.cli.output import fail, print_fields, print_json, print_table

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
PHASES = ["dns", "dns_resolver", "dns_post", "network", "http"]
KINDS = ["domain", "host", "ip", "url", "email"]
FORMATS = ["auto", "plain", "hosts", "adblock"]
#: Long operations: committing a million-entry upload, downloading a list.
SLOW_TIMEOUT = 300.0
#: Entries `list show` prints unless told otherwise.
SHOW_ENTRIES = 20


def _ref(name: str) -> str:
    return quote(name, safe="")


def _settings(pairs: tuple[str, ...]) -> dict[str, str]:
    out: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            fail(f"--setting takes KEY=VALUE, not {pair!r}")
        out[key] = value
    return out


def _brief(p: dict[str, Any]) -> str:
    return f"{p['name']!r} (precedence {p['precedence']}, {p['action']})"


# --- policies --------------------------------------------------------------------------------


@click.group()
def policy() -> None:
    """Gateway policies: DNS, resolver, post-resolution, network and HTTP filtering."""


def _show_policy(p: dict[str, Any]) -> None:
    print_fields(
        [
            ("name", p["name"]),
            ("id", p["id"]),
            ("phase", p["phase"]),
            ("precedence", p["precedence"]),
            ("enabled", "yes" if p["enabled"] else "no"),
            ("action", p["action"]),
            ("expression", p["expression"] or "(any traffic)"),
            ("identity", p["identity"] or "(anyone)"),
            ("settings", ", ".join(f"{k}={v}" for k, v in p["settings"].items()) or "none"),
            ("lists", ", ".join(p["lists"]) or "none"),
            ("description", p["description"]),
            ("updated", p["updated_at"]),
        ]
    )


@policy.command("create")
@click.argument("name")
@click.option("--phase", type=click.Choice(PHASES), required=True)
@click.option("--expr", "expression", default="", help="traffic expression")
@click.option("--identity", default="", help="identity expression (identity.* fields)")
@click.option("--action", required=True, help="block, allow, override, resolve, …")
@click.option("--precedence", type=int, default=None, help="lowest first (default: last)")
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE", help="action setting")
@click.option("--disabled", is_flag=True, help="create it switched off")
@click.option("--description", default="")
@json_option
def policy_create(
    name: str,
    phase: str,
    expression: str,
    identity: str,
    action: str,
    precedence: int | None,
    settings: tuple[str, ...],
    disabled: bool,
    description: str,
    as_json: bool,
) -> None:
    """Create a policy (checked against the current lists before it is stored)."""
    body: dict[str, Any] = {
        "name": name,
        "phase": phase,
        "action": action,
        "expression": expression,
        "identity": identity,
        "settings": _settings(settings),
        "enabled": not disabled,
        "description": description,
    }
    if precedence is not None:
        body["precedence"] = precedence
    created = ApiClient.from_saved().post("/policies", json=body)
    if as_json:
        print_json(created)
        return
    state = "" if created["enabled"] else " (disabled)"
    click.echo(f"Created {created['phase']} policy {_brief(created)}{state}.")


@policy.command("list")
@click.option("--phase", type=click.Choice(PHASES), default=None)
@json_option
def policy_list(phase: str | None, as_json: bool) -> None:
    """List policies in evaluation order (per phase, lowest precedence first)."""
    items = ApiClient.from_saved().get_all("/policies", {"phase": phase} if phase else None)
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["PHASE", "PRECEDENCE", "NAME", "ACTION", "ENABLED", "EXPRESSION"],
        [
            (
                p["phase"],
                p["precedence"],
                p["name"],
                p["action"],
                "yes" if p["enabled"] else "no",
                " and ".join(f"({e})" for e in (p["expression"], p["identity"]) if e),
            )
            for p in items
        ],
    )


@policy.command("show")
@click.argument("name")
@json_option
def policy_show(name: str, as_json: bool) -> None:
    """Show one policy."""
    p = ApiClient.from_saved().get(f"/policies/{_ref(name)}")
    if as_json:
        print_json(p)
        return
    _show_policy(p)


@policy.command("update")
@click.argument("name")
@click.option("--rename", default=None, help="new name")
@click.option("--phase", type=click.Choice(PHASES), default=None)
@click.option("--expr", "expression", default=None)
@click.option("--identity", default=None)
@click.option("--action", default=None, help="a new action drops the old action's settings")
@click.option("--precedence", type=int, default=None)
@click.option("--setting", "settings", multiple=True, metavar="KEY=VALUE", help="set a setting")
@click.option("--clear-settings", is_flag=True, help="remove every setting first")
@click.option("--enable/--disable", "enabled", default=None)
@click.option("--description", default=None)
@json_option
def policy_update(
    name: str,
    rename: str | None,
    phase: str | None,
    expression: str | None,
    identity: str | None,
    action: str | None,
    precedence: int | None,
    settings: tuple[str, ...],
    clear_settings: bool,
    enabled: bool | None,
    description: str | None,
    as_json: bool,
) -> None:
    """Change a policy; what is not given stays as it is."""
    body: dict[str, Any] = {
        key: value
        for key, value in (
            ("name", rename),
            ("phase", phase),
            ("expression", expression),
            ("identity", identity),
            ("action", action),
            ("precedence", precedence),
            ("enabled", enabled),
            ("description", description),
        )
        if value is not None
    }
    client = ApiClient.from_saved()
    if settings or clear_settings:
        current: dict[str, str] = {}
        if not clear_settings and action is None:
            current = dict(client.get(f"/policies/{_ref(name)}")["settings"])
        body["settings"] = {**current, **_settings(settings)}
    if not body:
        fail("nothing to change: give an option such as --expr, --action or --disable")
    updated = client.request("PATCH", f"/policies/{_ref(name)}", json=body)
    if as_json:
        print_json(updated)
        return
    click.echo(f"Updated {updated['phase']} policy {_brief(updated)}.")


@policy.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def policy_delete(name: str, yes: bool) -> None:
    """Delete a policy."""
    if not yes:
        click.confirm(f"Delete policy {name}?", abort=True)
    ApiClient.from_saved().delete(f"/policies/{_ref(name)}")
    click.echo(f"Deleted policy {name!r}.")


@policy.command("test")
@click.option("--phase", type=click.Choice(PHASES), default="dns", show_default=True)
@click.option("--dns-name", default=None, help="queried name (dns.fqdn)")
@click.option("--qtype", default=None, help="query type (dns.query_rtype), default A")
@click.option("--src-ip", default=None, help="client address")
@click.option("--location", default=None, help="DNS location name")
@click.option("--resolved-ip", "resolved_ips", multiple=True, help="answer address (dns_post)")
@click.option("--cname", "cnames", multiple=True, help="answer CNAME (dns_post)")
@click.option("--uri", default=None, help="HTTP request URI")
@click.option("--method", default=None, help="HTTP method")
@click.option("--dst-ip", default=None)
@click.option("--dst-port", type=int, default=None)
@click.option("--protocol", default=None, help="tcp or udp (network)")
@click.option("--sni", default=None, help="TLS server name (network)")
@click.option("--email", default=None, help="the user's e-mail (identity.email)")
@click.option("--group", "groups", multiple=True, help="a group of the user (identity.groups)")
@click.option("--field", "fields", multiple=True, metavar="FIELD=VALUE", help="any other field")
@json_option
def policy_test(
    phase: str,
    dns_name: str | None,
    qtype: str | None,
    src_ip: str | None,
    location: str | None,
    resolved_ips: tuple[str, ...],
    cnames: tuple[str, ...],
    uri: str | None,
    method: str | None,
    dst_ip: str | None,
    dst_port: int | None,
    protocol: str | None,
    sni: str | None,
    email: str | None,
    groups: tuple[str, ...],
    fields: tuple[str, ...],
    as_json: bool,
) -> None:
    """Evaluate the policies in force for a described request: the verdict and the policy."""
    request: dict[str, Any] = {}
    dns_phase = phase.startswith("dns")
    src_field = "dns.src_ip" if dns_phase else "net.src.ip"
    for key, value in (
        ("dns.fqdn", dns_name),
        ("dns.query_rtype", qtype or ("A" if dns_name and dns_phase else None)),
        (src_field, src_ip),
        ("dns.location", location),
        ("dns.resolved_ips", list(resolved_ips) or None),
        ("dns.cname", list(cnames) or None),
        ("http.request.uri", uri),
        ("http.request.method", method or ("GET" if uri else None)),
        ("net.dst.ip", dst_ip),
        ("net.dst.port", dst_port),
        ("net.protocol", protocol),
        ("net.sni.host", sni),
        ("identity.email", email),
        ("identity.groups", list(groups) or None),
    ):
        if value is not None:
            request[key] = value
    for pair in fields:
        key, sep, value = pair.partition("=")
        if not sep:
            fail(f"--field takes FIELD=VALUE, not {pair!r}")
        request[key] = value
    verdict = ApiClient.from_saved().post(
        "/policies/test", json={"phase": phase, "request": request}
    )
    if as_json:
        print_json(verdict)
        return
    decided = verdict["policy"]
    if decided is None:
        click.echo(f"{verdict['action']}: no policy matched (the {phase} default)")
    else:
        click.echo(f"{verdict['action']}: policy {_brief(decided)}")
    if verdict["settings"]:
        click.echo("settings: " + ", ".join(f"{k}={v}" for k, v in verdict["settings"].items()))
    others = [m for m in verdict["matching"] if decided is None or m["id"] != decided["id"]]
    if others:
        click.echo("also matching (lower precedence): " + ", ".join(_brief(m) for m in others))
    for error in verdict["rule_errors"]:
        click.echo(f"warning: skipped policy {error}", err=True)


# --- lists -----------------------------------------------------------------------------------


@click.group("list")
def policy_lists() -> None:
    """Lists of domains, hosts, IPs, URLs or e-mails, used in policies as $name."""


def _upload(client: ApiClient, name: str, path: Path, fmt: str) -> dict[str, Any]:
    """Send a file in parts (request bodies are limited), then commit it in one go."""
    upload = client.post(f"/lists/{_ref(name)}/uploads")
    base = f"/lists/{_ref(name)}/uploads/{upload['id']}"
    try:
        with path.open("rb") as f:
            seq = 0
            while chunk := f.read(int(upload["max_part_bytes"])):
                client.request("PUT", f"{base}/parts/{seq}", content=chunk)
                seq += 1
    except OSError as exc:
        client.delete(base)
        fail(f"cannot read {path}: {exc.strerror or exc}")
    result: dict[str, Any] = client.post(
        f"{base}/commit", params={"format": fmt}, timeout=SLOW_TIMEOUT
    )
    return result


def _summary(lst: dict[str, Any]) -> str:
    text = f"list {lst['name']!r} ({lst['kind']}, {lst['source']}): {lst['entries']} entries"
    if lst.get("skipped"):
        text += f", {lst['skipped']} lines skipped"
    return text


def _refresh_text(seconds: int) -> str:
    if not seconds:
        return ""
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


@policy_lists.command("create")
@click.argument("name")
@click.option("--kind", type=click.Choice(KINDS), required=True)
@click.option("--entry", "entries", multiple=True, help="an entry (repeat)")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="a list file (plain, hosts or adblock format)",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="auto", show_default=True)
@click.option("--url", default=None, help="download the list from this URL, on a schedule")
@click.option("--refresh", default=None, help="download period for --url, e.g. 1h (default 4h)")
@click.option("--description", default="")
@json_option
def list_create(
    name: str,
    kind: str,
    entries: tuple[str, ...],
    file: Path | None,
    fmt: str,
    url: str | None,
    refresh: str | None,
    description: str,
    as_json: bool,
) -> None:
    """Create a list from --entry values, a --file, or a --url."""
    if sum(bool(x) for x in (entries, file, url)) > 1:
        fail("give entries in one way: --entry, --file or --url")
    if refresh and not url:
        fail("--refresh is for lists downloaded from a --url")
    client = ApiClient.from_saved()
    body: dict[str, Any] = {"name": name, "kind": kind, "description": description, "format": fmt}
    if url:
        body.update({"source": "url", "url": url, "refresh": refresh})
    elif file:
        body["source"] = "file"
    else:
        body["entries"] = list(entries)
    created: dict[str, Any] = client.post("/lists", json=body)
    if file:
        try:
            created = _upload(client, name, file, fmt)
        except click.ClickException:
            client.request("DELETE", f"/lists/{_ref(name)}")
            raise
    elif url:
        created = client.post(f"/lists/{_ref(name)}/refresh", timeout=SLOW_TIMEOUT)
    if as_json:
        print_json(created)
        return
    click.echo(f"Created {_summary(created)}.")
    if created["last_refresh_status"] == "failed":
        click.echo(
            f"warning: first download failed ({created['last_refresh_error']}); it will be retried",
            err=True,
        )


@policy_lists.command("list")
@click.option("--kind", type=click.Choice(KINDS), default=None)
@json_option
def list_list(kind: str | None, as_json: bool) -> None:
    """List the lists."""
    items = ApiClient.from_saved().get_all("/lists", {"kind": kind} if kind else None)
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "KIND", "SOURCE", "ENTRIES", "REFRESH", "STATUS", "USED BY"],
        [
            (
                x["name"],
                x["kind"],
                x["source"],
                x["entries"],
                _refresh_text(x["refresh_seconds"]),
                x["last_refresh_status"] if x["source"] == "url" else "",
                ", ".join(x["used_by"]),
            )
            for x in items
        ],
    )


@policy_lists.command("show")
@click.argument("name")
@click.option("--entries", "count", type=click.IntRange(0, 500), default=SHOW_ENTRIES)
@json_option
def list_show(name: str, count: int, as_json: bool) -> None:
    """Show a list and its first entries."""
    client = ApiClient.from_saved()
    lst = client.get(f"/lists/{_ref(name)}")
    first = client.get(f"/lists/{_ref(name)}/entries", params={"limit": count}) if count else []
    if as_json:
        print_json({**lst, "first_entries": first})
        return
    pairs: list[tuple[str, Any]] = [
        ("name", lst["name"]),
        ("id", lst["id"]),
        ("kind", lst["kind"]),
        ("source", lst["source"]),
        ("entries", lst["entries"]),
        ("used by", ", ".join(lst["used_by"]) or "no policy"),
        ("description", lst["description"]),
    ]
    if lst["source"] == "url":
        pairs += [
            ("url", lst["url"]),
            ("format", lst["format"]),
            ("refresh", _refresh_text(lst["refresh_seconds"])),
            ("last refresh", f"{lst['last_refresh_status']} {lst['last_refresh_at'] or ''}"),
        ]
        if lst["last_refresh_error"]:
            pairs.append(("last error", lst["last_refresh_error"]))
    print_fields(pairs)
    for entry in first:
        click.echo(f"  {entry}")
    if len(first) < lst["entries"]:
        click.echo(f"  … {lst['entries'] - len(first)} more")


@policy_lists.command("update")
@click.argument("name")
@click.option("--rename", default=None)
@click.option("--description", default=None)
@click.option("--url", default=None)
@click.option("--refresh", default=None)
@click.option("--entry", "entries", multiple=True, help="replace the entries with these")
@click.option(
    "--file",
    "file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="replace the entries with a file's",
)
@click.option("--format", "fmt", type=click.Choice(FORMATS), default=None)
@json_option
def list_update(
    name: str,
    rename: str | None,
    description: str | None,
    url: str | None,
    refresh: str | None,
    entries: tuple[str, ...],
    file: Path | None,
    fmt: str | None,
    as_json: bool,
) -> None:
    """Change a list's settings, or replace its entries."""
    if entries and file:
        fail("give --entry or --file, not both")
    client = ApiClient.from_saved()
    body = {
        k: v
        for k, v in (
            ("name", rename),
            ("description", description),
            ("url", url),
            ("refresh", refresh),
            ("format", fmt if not file else None),
        )
        if v is not None
    }
    if not body and not entries and not file:
        fail("nothing to change: give --entry, --file, --url, --refresh, --rename or --description")
    result: dict[str, Any] = {}
    if entries:
        result = client.request("PUT", f"/lists/{_ref(name)}/entries", json=list(entries))
    elif file:
        result = _upload(client, name, file, fmt or "auto")
    if body:
        result = client.request("PATCH", f"/lists/{_ref(name)}", json=body)
    if as_json:
        print_json(result)
        return
    click.echo(f"Updated {_summary(result)}.")


@policy_lists.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def list_delete(name: str, yes: bool) -> None:
    """Delete a list (refused while a policy uses it)."""
    if not yes:
        click.confirm(f"Delete list {name}?", abort=True)
    ApiClient.from_saved().delete(f"/lists/{_ref(name)}")
    click.echo(f"Deleted list {name!r}.")


@policy_lists.command("refresh")
@click.argument("name")
@json_option
def list_refresh(name: str, as_json: bool) -> None:
    """Download a URL list now."""
    lst = ApiClient.from_saved().post(f"/lists/{_ref(name)}/refresh", timeout=SLOW_TIMEOUT)
    if as_json:
        print_json(lst)
    status = lst["last_refresh_status"]
    if status == "failed":
        fail(f"refresh of {name!r} failed: {lst['last_refresh_error']}")
    if not as_json:
        click.echo(f"Refreshed {_summary(lst)} ({status}).")
