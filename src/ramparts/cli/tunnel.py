"""`ramparts tunnel create|list|info|delete|token|rotate`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
import yaml

from ramparts.cli.client import ApiClient
from ramparts.cli.output import console, fail, print_fields, print_json, print_table

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")


@click.group()
def tunnel() -> None:
    """Manage tunnels (connectors dial out to the edge with a tunnel's token)."""


def _show_token(result: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        print_json(result)
        return
    console.print(f"{verb} tunnel [bold]{result['name']}[/] ({result['id']}).")
    console.print("Connector token (shown once; run a connector with `--token`):")
    click.echo(result["token"])


@tunnel.command("create")
@click.argument("name")
@json_option
def create(name: str, as_json: bool) -> None:
    """Create a tunnel and print its connector token."""
    _show_token(ApiClient.from_saved().post("/tunnels", json={"name": name}), as_json, "Created")


@tunnel.command("list")
@json_option
def list_(as_json: bool) -> None:
    """List tunnels."""
    items = ApiClient.from_saved().get_all("/tunnels")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "ID", "CREATED", "TOKENS"],
        [(t["name"], t["id"], t["created_at"], t["credentials"]) for t in items],
    )


@tunnel.command("info")
@click.argument("name")
@json_option
def info(name: str, as_json: bool) -> None:
    """Show one tunnel (by name or id)."""
    client = ApiClient.from_saved()
    t = client.get(f"/tunnels/{name}")
    connections = client.get(f"/tunnels/{name}/connections")
    hostnames = client.get(f"/tunnels/{name}/hostnames")
    if as_json:
        print_json({**t, "connections": connections, "hostnames": hostnames})
        return
    print_fields(
        [
            ("name", t["name"]),
            ("id", t["id"]),
            ("created", t["created_at"]),
            ("secret rotated", t["secret_rotated_at"]),
            ("connector tokens", t["credentials"]),
            ("hostnames", ", ".join(h["hostname"] for h in hostnames) or "-"),
            ("status", f"{len(connections)} connections" if connections else "inactive"),
        ]
    )
    if connections:
        print_table(
            "Connections",
            ["EDGE", "CONNECTOR", "#", "ORIGIN IP", "VERSION", "SINCE"],
            [
                (
                    c["edge_name"],
                    c["connector_id"],
                    c["connection_index"],
                    c["origin_ip"],
                    c["client_version"],
                    c["opened_at"],
                )
                for c in connections
            ],
        )


@tunnel.command("delete")
@click.argument("name")
@click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
def delete(name: str, yes: bool) -> None:
    """Delete a tunnel; its connectors are refused from then on."""
    if not yes:
        click.confirm(f"Delete tunnel {name}?", abort=True)
    ApiClient.from_saved().delete(f"/tunnels/{name}")
    console.print(f"Deleted tunnel [bold]{name}[/].")


@tunnel.command("token")
@click.argument("name")
@json_option
def token(name: str, as_json: bool) -> None:
    """Issue a further connector token for a tunnel (earlier tokens keep working).

    Secrets are stored only as digests, so a token cannot be shown twice; use
    `ramparts tunnel rotate` to revoke every earlier token.
    """
    _show_token(ApiClient.from_saved().post(f"/tunnels/{name}/token"), as_json, "New token for")


@tunnel.command("rotate")
@click.argument("name")
@json_option
def rotate(name: str, as_json: bool) -> None:
    """Revoke every connector token of a tunnel and issue a new one."""
    _show_token(ApiClient.from_saved().post(f"/tunnels/{name}/rotate"), as_json, "Rotated")


@tunnel.group()
def route() -> None:
    """Route public hostnames to tunnels."""


@route.command("dns")
@click.argument("tunnel_name")
@click.argument("hostname")
def route_dns(tunnel_name: str, hostname: str) -> None:
    """Send requests for HOSTNAME (exact or *.suffix) down TUNNEL."""
    ApiClient.from_saved().post(f"/tunnels/{tunnel_name}/hostnames", json={"hostname": hostname})
    console.print(f"Requests for [bold]{hostname}[/] now go to tunnel [bold]{tunnel_name}[/].")


@route.command("list")
@click.argument("tunnel_name")
@json_option
def route_list(tunnel_name: str, as_json: bool) -> None:
    """Hostnames routed to a tunnel."""
    items = ApiClient.from_saved().get(f"/tunnels/{tunnel_name}/hostnames")
    if as_json:
        print_json(items)
        return
    print_table(None, ["HOSTNAME", "SINCE"], [(h["hostname"], h["created_at"]) for h in items])


@route.command("delete")
@click.argument("tunnel_name")
@click.argument("hostname")
def route_delete(tunnel_name: str, hostname: str) -> None:
    """Stop routing HOSTNAME to TUNNEL."""
    ApiClient.from_saved().delete(f"/tunnels/{tunnel_name}/hostnames/{hostname}")
    console.print(f"Removed route [bold]{hostname}[/].")


@tunnel.group("ingress")
def ingress_group() -> None:
    """Remotely managed ingress rules: stored in the control plane, pushed to connectors."""


@ingress_group.command("set")
@click.argument("tunnel_name")
@click.option(
    "--file",
    "path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="YAML or JSON with `ingress:` rules (and optional `originRequest:`)",
)
@json_option
def ingress_set(tunnel_name: str, path: Path, as_json: bool) -> None:
    """Store a new version of TUNNEL's ingress rules; running connectors apply it."""
    try:
        document = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        fail(f"{path}: not YAML: {exc}".replace("\n", " "))
    if not isinstance(document, dict):
        fail(f"{path}: expected a mapping with an `ingress:` list")
    config = {k: v for k, v in document.items() if k in ("ingress", "originRequest")}
    result = ApiClient.from_saved().request(
        "PUT", f"/tunnels/{tunnel_name}/configurations", json={"config": config}
    )
    if as_json:
        print_json(result)
        return
    console.print(f"Tunnel [bold]{tunnel_name}[/] ingress is now version {result['version']}.")


@ingress_group.command("show")
@click.argument("tunnel_name")
def ingress_show(tunnel_name: str) -> None:
    """Print TUNNEL's current remotely managed configuration (YAML)."""
    result = ApiClient.from_saved().get(f"/tunnels/{tunnel_name}/configurations")
    click.echo(f"# version {result['version']}")
    click.echo(yaml.safe_dump(result["config"], sort_keys=False).rstrip())
