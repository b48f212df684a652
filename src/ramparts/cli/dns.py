"""`ramparts dns location|upstream|settings|log`: DNS locations and the resolver behind them."""

from __future__ import annotations

from typing import Any

import click

from ramparts.cli.client import ApiClient
from ramparts.cli.output import console, fail, print_fields, print_json, print_table

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


@click.group()
def dns() -> None:
    """DNS locations, upstream resolvers, team DNS settings and the query log."""


# --- locations -------------------------------------------------------------------------------


@dns.group()
def location() -> None:
    """Networks and devices whose resolver points at the edge."""


def _show_client(loc: dict[str, Any]) -> None:
    client = loc["client"]
    console.print(f"DNS location [bold]{loc['name']}[/] (id {loc['id']})")
    nets = ", ".join(loc["networks"]) or "none (DoT/DoH only)"
    console.print(
        f"  source networks  {nets}" + ("   [default location]" if loc["default"] else "")
    )
    console.print("Client settings to paste:")
    if not (client["dns"] or client["dot"] or client["doh"]):
        console.print(
            "  (no edge has announced its DNS listeners yet; start one with `ramparts up`)"
        )
    for address in client["dns"]:
        host, _, port = address.rpartition(":")
        console.print(f"  DNS (UDP/TCP)    server {host.strip('[]')}  port {port}")
    for address in client["dot"]:
        host, _, port = address.rpartition(":")
        console.print(
            f"  DNS over TLS     hostname {client['dot_hostname']}  "
            f"(server {host.strip('[]')} port {port})"
        )
    for url in client["doh"]:
        console.print(f"  DNS over HTTPS   {url}")


@location.command("create")
@click.argument("name")
@click.option("--network", "networks", multiple=True, metavar="CIDR", help="source network")
@click.option("--default", "is_default", is_flag=True, help="serve DoT/DoH naming no location")
@json_option
def location_create(name: str, networks: tuple[str, ...], is_default: bool, as_json: bool) -> None:
    """Create a location and print the settings its clients need."""
    body = {"name": name, "networks": list(networks), "default": is_default}
    loc = ApiClient.from_saved().post("/dns/locations", json=body)
    if as_json:
        print_json(loc)
        return
    _show_client(loc)


@location.command("list")
@json_option
def location_list(as_json: bool) -> None:
    """List locations."""
    items = ApiClient.from_saved().get_all("/dns/locations")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "ID", "NETWORKS", "DEFAULT", "DOT HOSTNAME"],
        [
            (
                loc["name"],
                loc["id"],
                ", ".join(loc["networks"]),
                "yes" if loc["default"] else "",
                loc["client"]["dot_hostname"],
            )
            for loc in items
        ],
    )


@location.command("info")
@click.argument("name")
@json_option
def location_info(name: str, as_json: bool) -> None:
    """Show one location and its client settings."""
    loc = ApiClient.from_saved().get(f"/dns/locations/{name}")
    if as_json:
        print_json(loc)
        return
    _show_client(loc)


@location.command("update")
@click.argument("name")
@click.option("--rename", default=None, help="new name")
@click.option("--network", "networks", multiple=True, metavar="CIDR", help="replaces the list")
@click.option("--clear-networks", is_flag=True, help="remove every source network")
@click.option("--default/--not-default", "is_default", default=None)
@json_option
def location_update(
    name: str,
    rename: str | None,
    networks: tuple[str, ...],
    clear_networks: bool,
    is_default: bool | None,
    as_json: bool,
) -> None:
    """Change a location's name, networks or default flag."""
    body: dict[str, Any] = {}
    if rename:
        body["name"] = rename
    if networks or clear_networks:
        body["networks"] = list(networks)
    if is_default is not None:
        body["default"] = is_default
    if not body:
        fail("nothing to change: give --rename, --network, --clear-networks or --default")
    loc = ApiClient.from_saved().request("PATCH", f"/dns/locations/{name}", json=body)
    if as_json:
        print_json(loc)
        return
    _show_client(loc)


@location.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def location_delete(name: str, yes: bool) -> None:
    """Delete a location; its networks get the team's unmatched behaviour."""
    if not yes:
        click.confirm(f"Delete DNS location {name}?", abort=True)
    ApiClient.from_saved().delete(f"/dns/locations/{name}")
    console.print(f"Deleted DNS location [bold]{name}[/].")


# --- upstreams -------------------------------------------------------------------------------


@dns.group()
def upstream() -> None:
    """Upstream resolvers, tried in order (failover)."""


@upstream.command("add")
@click.argument("name")
@click.option(
    "--type", "kind", type=click.Choice(["udp", "tcp", "dot", "doh"]), default="udp",
    show_default=True,
)  # fmt: skip
@click.option("--address", required=True, help="host[:port], or https://host/dns-query for doh")
@click.option("--bootstrap", multiple=True, metavar="IP", help="IP of a named host")
@click.option("--tls-name", default="", help="name checked in the upstream's certificate")
@click.option(
    "--tls-ca", type=click.File("r"), default=None, help="PEM CA to trust instead of the system's"
)
@click.option("--position", type=int, default=None, help="0 is tried first (default: last)")
@json_option
def upstream_add(
    name: str,
    kind: str,
    address: str,
    bootstrap: tuple[str, ...],
    tls_name: str,
    tls_ca: Any,
    position: int | None,
    as_json: bool,
) -> None:
    """Add an upstream resolver (name it in resolver policies: setting upstream=NAME)."""
    body: dict[str, Any] = {
        "name": name,
        "type": kind,
        "address": address,
        "bootstrap": list(bootstrap),
        "tls_name": tls_name,
        "tls_ca_pem": tls_ca.read() if tls_ca else "",
    }
    if position is not None:
        body["position"] = position
    result = ApiClient.from_saved().post("/dns/upstreams", json=body)
    if as_json:
        print_json(result)
        return
    console.print(
        f"Added upstream [bold]{name}[/] ({kind} {address}) at position {result['position']}."
    )


@upstream.command("list")
@json_option
def upstream_list(as_json: bool) -> None:
    """List upstreams in failover order."""
    items = ApiClient.from_saved().get("/dns/upstreams")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["#", "NAME", "TYPE", "ADDRESS", "BOOTSTRAP", "TLS NAME"],
        [
            (
                u["position"],
                u["name"],
                u["type"],
                u["address"],
                ", ".join(u["bootstrap"]),
                u["tls_name"],
            )
            for u in items
        ],
    )


@upstream.command("remove")
@click.argument("name")
def upstream_remove(name: str) -> None:
    """Remove an upstream."""
    ApiClient.from_saved().delete(f"/dns/upstreams/{name}")
    console.print(f"Removed upstream [bold]{name}[/].")


# --- settings --------------------------------------------------------------------------------


@dns.group()
def settings() -> None:
    """Team DNS settings: unmatched queries, cache TTL clamps, block page, query log."""


@settings.command("show")
@json_option
def settings_show(as_json: bool) -> None:
    """Show the team's DNS settings."""
    current = ApiClient.from_saved().get("/dns/settings")
    if as_json:
        print_json(current)
        return
    print_fields(sorted(current.items()))


@settings.command("set")
@click.option("--unmatched-plain", type=click.Choice(["refuse", "serve"]), default=None)
@click.option("--unmatched-encrypted", type=click.Choice(["refuse", "serve"]), default=None)
@click.option("--cache-min-ttl", type=int, default=None)
@click.option("--cache-max-ttl", type=int, default=None)
@click.option("--negative-max-ttl", type=int, default=None)
@click.option("--block-page-ipv4", default=None, help="answer blocked A queries with this IP")
@click.option("--block-page-ipv6", default=None, help="answer blocked AAAA queries with this IP")
@click.option("--query-log/--no-query-log", default=None)
@click.option("--log-retention-days", type=int, default=None)
@json_option
def settings_set(as_json: bool, **options: Any) -> None:
    """Change team DNS settings (only the options given)."""
    body = {k: v for k, v in options.items() if v is not None}
    if not body:
        fail("nothing to change: give at least one option (see --help)")
    current = ApiClient.from_saved().request("PATCH", "/dns/settings", json=body)
    if as_json:
        print_json(current)
        return
    print_fields(sorted(current.items()))


# --- query log -------------------------------------------------------------------------------


@dns.command("log")
@click.option("--location", default=None, help="location name or id")
@click.option("--blocked", is_flag=True, help="only blocked queries")
@click.option("--name", default=None, help="this name and names under it")
@click.option("--src-ip", default=None)
@click.option("--since", default=None, help="ISO 8601 time")
@click.option("--limit", type=int, default=50, show_default=True)
@json_option
def log(
    location: str | None,
    blocked: bool,
    name: str | None,
    src_ip: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Recent DNS queries, newest first."""
    params: dict[str, Any] = {"limit": max(1, min(limit, 500))}
    for key, value in (
        ("location", location),
        ("name", name),
        ("src_ip", src_ip),
        ("since", since),
    ):
        if value:
            params[key] = value
    if blocked:
        params["blocked"] = "true"
    items = ApiClient.from_saved().get("/dns/queries", params=params)
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        [
            "TIME",
            "LOCATION",
            "SOURCE",
            "PROTO",
            "NAME",
            "TYPE",
            "DECISION",
            "POLICY",
            "RCODE",
            "MS",
        ],
        [
            (
                q["at"][11:23],
                q["location"] or "-",
                q["src_ip"],
                q["protocol"],
                q["name"],
                q["type"],
                q["decision"],
                q["policy"],
                q["rcode"],
                q["latency_ms"],
            )
            for q in items
        ],
    )
