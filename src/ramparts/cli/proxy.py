"""`ramparts proxy endpoint|pac|token|log`: proxy endpoints, their PAC files, proxy tokens."""

from __future__ import annotations

import sys
from typing import Any

import click

from ramparts.cli.client import ApiClient
from ramparts.cli.output import console, fail, print_fields, print_json, print_table

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


@click.group()
def proxy() -> None:
    """Proxy endpoints (the forward proxy for browsers and devices), PAC files, tokens, log."""


# --- endpoints -------------------------------------------------------------------------------


@proxy.group()
def endpoint() -> None:
    """Where browsers and devices enter the proxy: by source network or by login."""


def _show(ep: dict[str, Any]) -> None:
    kind = "source networks" if ep["kind"] == "source_ip" else "authorization (users log in)"
    console.print(f"Proxy endpoint [bold]{ep['name']}[/] (id {ep['id']}), {kind}")
    pairs: list[tuple[str, Any]] = []
    if ep["kind"] == "source_ip":
        pairs.append(("source networks", ", ".join(ep["networks"])))
    pairs += [
        ("CONNECT ports", ", ".join(str(p) for p in ep["connect_ports"])),
        ("private destinations", "allowed" if ep["allow_private_destinations"] else "refused"),
        ("TLS inspection", "on" if ep["tls_inspection"] else "off"),
        ("PAC file", "custom" if ep["custom_pac"] else "generated"),
    ]
    print_fields(pairs)
    if ep["pac_url"] is None:
        console.print("(no edge has announced its proxy yet; start one with `ramparts up`)")
        return
    console.print("Browser settings:")
    console.print(f"  automatic proxy configuration (PAC) URL  {ep['pac_url']}")
    if ep["proxy"]:
        console.print(f"  HTTP proxy                               {ep['proxy']}")
    if ep["proxy_tls"]:
        console.print(f"  HTTPS proxy (TLS to the proxy)           {ep['proxy_tls']}")


def _settings(
    networks: tuple[str, ...],
    allow_private: bool | None,
    ports: tuple[int, ...],
    tls_inspection: bool | None,
) -> dict[str, Any]:
    body: dict[str, Any] = {}
    if networks:
        body["networks"] = list(networks)
    if allow_private is not None:
        body["allow_private_destinations"] = allow_private
    if ports:
        body["connect_ports"] = list(ports)
    if tls_inspection is not None:
        body["tls_inspection"] = tls_inspection
    return body


network_option = click.option(
    "--source-network", "networks", multiple=True, metavar="CIDR", help="allowed source network"
)
port_option = click.option(
    "--connect-port", "ports", multiple=True, type=click.IntRange(1, 65535), metavar="N",
    help="port CONNECT may reach (default 443; repeat for more)",
)  # fmt: skip


@endpoint.command("create")
@click.argument("name")
@network_option
@click.option("--authorization", is_flag=True, help="users identify themselves (Access, tokens)")
@click.option(
    "--allow-private-destinations", "allow_private", is_flag=True,
    help="let clients reach private and loopback addresses (refused by default)",
)  # fmt: skip
@port_option
@click.option("--tls-inspection", is_flag=True, help="decrypt HTTPS with the team CA")
@json_option
def endpoint_create(
    name: str,
    networks: tuple[str, ...],
    authorization: bool,
    allow_private: bool,
    ports: tuple[int, ...],
    tls_inspection: bool,
    as_json: bool,
) -> None:
    """Create an endpoint and print its PAC URL and proxy address."""
    if authorization == bool(networks):
        fail("give --source-network CIDR (one or more) or --authorization")
    body = {
        "name": name,
        "kind": "authorization" if authorization else "source_ip",
        **_settings(networks, allow_private, ports, tls_inspection),
    }
    ep = ApiClient.from_saved().post("/proxy/endpoints", json=body)
    if as_json:
        print_json(ep)
        return
    _show(ep)


@endpoint.command("list")
@json_option
def endpoint_list(as_json: bool) -> None:
    """List endpoints."""
    items = ApiClient.from_saved().get_all("/proxy/endpoints")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "ID", "KIND", "NETWORKS", "PORTS", "PRIVATE", "INSPECT", "PAC URL"],
        [
            (
                ep["name"],
                ep["id"],
                ep["kind"],
                ", ".join(ep["networks"]) or "-",
                ",".join(str(p) for p in ep["connect_ports"]),
                "yes" if ep["allow_private_destinations"] else "",
                "yes" if ep["tls_inspection"] else "",
                ep["pac_url"] or "-",
            )
            for ep in items
        ],
    )


@endpoint.command("info")
@click.argument("name")
@json_option
def endpoint_info(name: str, as_json: bool) -> None:
    """Show one endpoint (name or id) and its browser settings."""
    ep = ApiClient.from_saved().get(f"/proxy/endpoints/{name}")
    if as_json:
        print_json(ep)
        return
    _show(ep)


@endpoint.command("update")
@click.argument("name")
@click.option("--rename", default=None, help="new name")
@click.option("--source-network", "networks", multiple=True, metavar="CIDR", help="replaces all")
@click.option(
    "--allow-private-destinations/--refuse-private-destinations", "allow_private", default=None
)
@port_option
@click.option("--tls-inspection/--no-tls-inspection", default=None)
@json_option
def endpoint_update(
    name: str,
    rename: str | None,
    networks: tuple[str, ...],
    allow_private: bool | None,
    ports: tuple[int, ...],
    tls_inspection: bool | None,
    as_json: bool,
) -> None:
    """Change an endpoint (only what is given; the kind is fixed at creation)."""
    body = _settings(networks, allow_private, ports, tls_inspection)
    if rename:
        body["name"] = rename
    if not body:
        fail("nothing to change: give at least one option (see --help)")
    ep = ApiClient.from_saved().request("PATCH", f"/proxy/endpoints/{name}", json=body)
    if as_json:
        print_json(ep)
        return
    _show(ep)


@endpoint.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def endpoint_delete(name: str, yes: bool) -> None:
    """Delete an endpoint with its tokens; its clients are refused from then on."""
    if not yes:
        click.confirm(f"Delete proxy endpoint {name}?", abort=True)
    ApiClient.from_saved().delete(f"/proxy/endpoints/{name}")
    console.print(f"Deleted proxy endpoint [bold]{name}[/].")


# --- PAC files -------------------------------------------------------------------------------


@proxy.group()
def pac() -> None:
    """The PAC file browsers load (generated, or your own)."""


@pac.command("show")
@click.argument("name")
def pac_show(name: str) -> None:
    """Print the endpoint's PAC file as browsers get it."""
    found = ApiClient.from_saved().get(
        f"/proxy/endpoints/{name}/pac", headers={"Accept": "application/json"}
    )
    sys.stdout.write(found["pac"])
    sys.stdout.flush()


@pac.command("set")
@click.argument("name")
@click.argument("file", type=click.File("rb"))
def pac_set(name: str, file: Any) -> None:
    """Serve FILE (a PAC file, "-" for stdin) instead of the generated one."""
    data = file.read()
    ep = ApiClient.from_saved().request(
        "PUT",
        f"/proxy/endpoints/{name}/pac",
        content=data,
        headers={"Content-Type": "text/plain; charset=utf-8"},
    )
    console.print(f"Endpoint [bold]{ep['name']}[/] now serves your PAC file ({len(data)} bytes).")


@pac.command("reset")
@click.argument("name")
def pac_reset(name: str) -> None:
    """Go back to the generated PAC file."""
    ApiClient.from_saved().delete(f"/proxy/endpoints/{name}/pac")
    console.print(f"Endpoint [bold]{name}[/] serves the generated PAC file again.")


# --- tokens ----------------------------------------------------------------------------------


@proxy.group()
def token() -> None:
    """Per-user proxy tokens for clients that cannot log in with a browser (curl, tools)."""


@token.command("create")
@click.argument("endpoint_ref", metavar="ENDPOINT")
@click.option("--email", required=True, help="the user the token identifies")
@click.option("--name", default="", help="a label (device, tool)")
@click.option("--expires-in-days", type=click.IntRange(1, 3650), default=None)
@json_option
def token_create(
    endpoint_ref: str, email: str, name: str, expires_in_days: int | None, as_json: bool
) -> None:
    """Issue a token on an authorization endpoint; the secret is shown once."""
    body: dict[str, Any] = {"email": email, "name": name}
    if expires_in_days is not None:
        body["expires_in_days"] = expires_in_days
    client = ApiClient.from_saved()
    created = client.post(f"/proxy/endpoints/{endpoint_ref}/tokens", json=body)
    if as_json:
        print_json(created)
        return
    ep = client.get(f"/proxy/endpoints/{created['endpoint_id']}")
    console.print(f"Proxy token [bold]{created['id']}[/] for {created['email']}")
    console.print("Secret (shown once, keep it safe):")
    click.echo(created["secret"])
    proxy_url = f"https://{ep['proxy_tls']}" if ep.get("proxy_tls") else None
    if proxy_url is None and ep.get("proxy"):
        proxy_url = f"http://{ep['proxy']}"
    if proxy_url:
        console.print(
            "Use it as [bold]Proxy-Authorization: Basic[/] email:secret, e.g.\n"
            f"  curl --proxy {proxy_url} --proxy-user '{created['email']}:<secret>' URL"
        )


@token.command("list")
@click.argument("endpoint_ref", metavar="ENDPOINT")
@json_option
def token_list(endpoint_ref: str, as_json: bool) -> None:
    """List an endpoint's tokens (never their secrets)."""
    items = ApiClient.from_saved().get(f"/proxy/endpoints/{endpoint_ref}/tokens")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["ID", "EMAIL", "NAME", "EXPIRES", "CREATED"],
        [
            (t["id"], t["email"], t["name"], t["expires_at"] or "never", t["created_at"][:19])
            for t in items
        ],
    )


@token.command("revoke")
@click.argument("token_id", metavar="ID")
def token_revoke(token_id: str) -> None:
    """Revoke a token: the proxy refuses it from the next configuration on."""
    ApiClient.from_saved().delete(f"/proxy/tokens/{token_id}")
    console.print(f"Revoked proxy token [bold]{token_id}[/].")


# --- request log -----------------------------------------------------------------------------


@proxy.command("log")
@click.option("--endpoint", default=None, help="endpoint name or id")
@click.option("--blocked", is_flag=True, help="only blocked or refused requests")
@click.option("--user", default=None, help="email")
@click.option("--host", default=None, help="this host and names under it")
@click.option("--since", default=None, help="ISO 8601 time")
@click.option("--limit", type=click.IntRange(1, 500), default=50, show_default=True)
@json_option
def log(
    endpoint: str | None,
    blocked: bool,
    user: str | None,
    host: str | None,
    since: str | None,
    limit: int,
    as_json: bool,
) -> None:
    """Recent proxied requests and tunnels, newest first."""
    params: dict[str, Any] = {"limit": limit}
    for key, value in (("endpoint", endpoint), ("user", user), ("host", host), ("since", since)):
        if value:
            params[key] = value
    if blocked:
        params["blocked"] = "true"
    items = ApiClient.from_saved().get("/proxy/log", params=params)
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["TIME", "ENDPOINT", "SOURCE", "USER", "METHOD", "HOST", "DECISION", "POLICY", "STATUS",
         "UP", "DOWN", "MS"],
        [
            (
                r["at"][11:23], r["endpoint"] or "-", r["src_ip"], r["user"] or "-", r["method"],
                r["host"], r["decision"], r["policy"], r["status"], r["bytes_up"],
                r["bytes_down"], r["duration_ms"],
            )
            for r in items
        ],
    )  # fmt: skip
