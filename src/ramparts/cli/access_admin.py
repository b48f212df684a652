"""`ramparts access app|policy|service-token|idp|group|user|keys`: manage Access through the API."""

from __future__ import annotations

import os
import re
from typing import Any

import click

from ramparts.cli.client import ApiClient
from ramparts.cli.output import console, fail, print_fields, print_json, print_table

json_option = click.option("--json", "as_json", is_flag=True, help="machine-readable output")
yes_option = click.option("--yes", "-y", is_flag=True, help="do not ask for confirmation")
_DURATION = re.compile(r"^(\d+)([smhd]?)$")
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> int:
    """``90``, ``45m``, ``24h``, ``7d`` -> seconds."""
    match = _DURATION.match(text.strip().lower())
    if match is None:
        fail(f"invalid duration {text!r}: use seconds or a number with s, m, h or d")
    return int(match[1]) * _UNITS[match[2]]


def _secret(value: str | None, env: str | None, what: str) -> str:
    if env:
        found = os.environ.get(env)
        if found is None:
            fail(f"environment variable {env} (for the {what}) is not set")
        return found
    return value or ""


# -- applications ---------------------------------------------------------------------------


@click.group("app")
def app_group() -> None:
    """Access applications: a public hostname (and path) behind login."""


@app_group.command("create")
@click.argument("name")
@click.option("--domain", required=True, help="public hostname (exact or *.suffix)")
@click.option("--path", "path", default="", help="path prefix (default: the whole host)")
@click.option("--session", "session", default="24h", show_default=True, help="session duration")
@click.option(
    "--idp", "idps", multiple=True, help="allowed identity provider (repeat; default all)"
)
@click.option("--same-site", type=click.Choice(["lax", "strict", "none"]), default="lax")
@click.option("--hidden", is_flag=True, help="do not list it in the App Launcher")
@json_option
def app_create(
    name: str,
    domain: str,
    path: str,
    session: str,
    idps: tuple[str, ...],
    same_site: str,
    hidden: bool,
    as_json: bool,
) -> None:
    """Create an application. With no policy it lets nobody in: add one with `access policy`."""
    body = {
        "name": name,
        "domain": domain,
        "path": path,
        "session_seconds": parse_duration(session),
        "allowed_idps": list(idps),
        "same_site": same_site,
        "launcher_visible": not hidden,
    }
    app = ApiClient.from_saved().post("/access/apps", json=body)
    if as_json:
        print_json(app)
        return
    console.print(f"Created application [bold]{app['name']}[/] for {app['domain']}{app['path']}.")
    console.print(f"AUD tag: {app['aud']}")


@app_group.command("list")
@json_option
def app_list(as_json: bool) -> None:
    """List applications."""
    items = ApiClient.from_saved().get_all("/access/apps")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "DOMAIN", "PATH", "SESSION", "AUD"],
        [
            (a["name"], a["domain"], a["path"] or "/", f"{a['session_seconds']}s", a["aud"])
            for a in items
        ],
    )


@app_group.command("show")
@click.argument("name")
@json_option
def app_show(name: str, as_json: bool) -> None:
    """Show one application and its policies."""
    client = ApiClient.from_saved()
    app = client.get(f"/access/apps/{name}")
    policies = client.get(f"/access/apps/{name}/policies")
    if as_json:
        print_json({**app, "policies": policies})
        return
    print_fields([(k, app[k]) for k in ("name", "id", "domain", "path", "aud", "session_seconds")])
    _policy_table(policies)


@app_group.command("delete")
@click.argument("name")
@yes_option
def app_delete(name: str, yes: bool) -> None:
    """Delete an application (its hostname is no longer protected by it)."""
    if not yes:
        click.confirm(f"Delete application {name}?", abort=True)
    ApiClient.from_saved().delete(f"/access/apps/{name}")
    console.print(f"Deleted application [bold]{name}[/].")


# -- policies -------------------------------------------------------------------------------


def _policy_table(policies: list[dict[str, Any]]) -> None:
    print_table(
        None,
        ["#", "NAME", "ACTION", "INCLUDE", "REQUIRE", "EXCLUDE"],
        [
            (
                p["precedence"],
                p["name"],
                p["action"],
                ", ".join(p["include"]),
                ", ".join(p["require"]),
                ", ".join(p["exclude"]),
            )
            for p in policies
        ],
    )


@click.group("policy")
def policy_group() -> None:
    """Access policies of an application (evaluated in precedence order)."""


@policy_group.command("create")
@click.argument("app")
@click.argument("name")
@click.option(
    "--action",
    type=click.Choice(["allow", "block", "bypass", "service_auth"]),
    required=True,
)
@click.option("--include", multiple=True, required=True, help="rule, any must match (repeat)")
@click.option("--require", multiple=True, help="rule, all must match (repeat)")
@click.option("--exclude", multiple=True, help="rule, none may match (repeat)")
@click.option("--precedence", type=int, default=None, help="order (default: after the last)")
@json_option
def policy_create(
    app: str,
    name: str,
    action: str,
    include: tuple[str, ...],
    require: tuple[str, ...],
    exclude: tuple[str, ...],
    precedence: int | None,
    as_json: bool,
) -> None:
    """Add a policy. Rules: email=, email_domain=, group=, idp=, ip=, service_token=,
    any_service_token, everyone."""
    body: dict[str, Any] = {
        "name": name,
        "action": action,
        "include": list(include),
        "require": list(require),
        "exclude": list(exclude),
    }
    if precedence is not None:
        body["precedence"] = precedence
    policy = ApiClient.from_saved().post(f"/access/apps/{app}/policies", json=body)
    if as_json:
        print_json(policy)
        return
    console.print(
        f"Created policy [bold]{policy['name']}[/] ({policy['action']}, "
        f"precedence {policy['precedence']}) on {app}."
    )


@policy_group.command("list")
@click.argument("app")
@json_option
def policy_list(app: str, as_json: bool) -> None:
    """List an application's policies in evaluation order."""
    policies = ApiClient.from_saved().get(f"/access/apps/{app}/policies")
    if as_json:
        print_json(policies)
        return
    _policy_table(policies)


@policy_group.command("delete")
@click.argument("app")
@click.argument("name")
@yes_option
def policy_delete(app: str, name: str, yes: bool) -> None:
    """Delete a policy."""
    if not yes:
        click.confirm(f"Delete policy {name} of {app}?", abort=True)
    ApiClient.from_saved().delete(f"/access/apps/{app}/policies/{name}")
    console.print(f"Deleted policy [bold]{name}[/].")


# -- service tokens -------------------------------------------------------------------------


@click.group("service-token")
def token_group() -> None:
    """Service tokens: CF-Access-Client-Id / CF-Access-Client-Secret for machines."""


def _show_secret(token: dict[str, Any], as_json: bool, verb: str) -> None:
    if as_json:
        print_json(token)
        return
    console.print(
        f"{verb} service token [bold]{token['name']}[/] (expires {token['expires_at'] or 'never'})."
    )
    console.print("Send these headers (the secret is shown once):")
    click.echo(f"CF-Access-Client-Id: {token['client_id']}")
    click.echo(f"CF-Access-Client-Secret: {token['client_secret']}")


@token_group.command("create")
@click.argument("name")
@click.option("--duration-days", type=int, default=None, help="expiry (default: none)")
@json_option
def token_create(name: str, duration_days: int | None, as_json: bool) -> None:
    """Create a service token and print its client id and secret."""
    body: dict[str, Any] = {"name": name}
    if duration_days is not None:
        body["duration_days"] = duration_days
    _show_secret(
        ApiClient.from_saved().post("/access/service-tokens", json=body), as_json, "Created"
    )


@token_group.command("list")
@json_option
def token_list(as_json: bool) -> None:
    """List service tokens (never their secrets)."""
    items = ApiClient.from_saved().get("/access/service-tokens")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "CLIENT ID", "CREATED", "EXPIRES"],
        [(t["name"], t["client_id"], t["created_at"], t["expires_at"] or "never") for t in items],
    )


@token_group.command("rotate")
@click.argument("name")
@json_option
def token_rotate(name: str, as_json: bool) -> None:
    """A new secret for the same client id; the old secret stops working."""
    _show_secret(
        ApiClient.from_saved().post(f"/access/service-tokens/{name}/rotate"), as_json, "Rotated"
    )


@token_group.command("delete")
@click.argument("name")
@yes_option
def token_delete(name: str, yes: bool) -> None:
    """Delete a service token."""
    if not yes:
        click.confirm(f"Delete service token {name}?", abort=True)
    ApiClient.from_saved().delete(f"/access/service-tokens/{name}")
    console.print(f"Deleted service token [bold]{name}[/].")


# -- identity providers ---------------------------------------------------------------------


@click.group("idp")
def idp_group() -> None:
    """Identity providers shown on the login page (OIDC, one-time PIN by email)."""


@idp_group.command("create")
@click.argument("name")
@click.option("--type", "kind", type=click.Choice(["oidc", "otp"]), required=True)
@click.option("--issuer", help="OIDC issuer URL (discovery is read from it)")
@click.option("--client-id", help="OIDC client id")
@click.option("--client-secret-env", metavar="VAR", help="read the OIDC client secret from $VAR")
@click.option(
    "--scope", "scopes", multiple=True, help="OIDC scope (repeat; default openid email profile)"
)
@click.option("--email-claim", default=None, help="claim holding the email (dotted for nested)")
@click.option("--groups-claim", default=None, help="claim holding the groups (dotted for nested)")
@click.option("--smtp-host", help="PIN: SMTP server")
@click.option("--smtp-port", type=int, default=None, help="PIN: SMTP port (default 587)")
@click.option("--smtp-security", type=click.Choice(["starttls", "tls", "none"]), default=None)
@click.option("--smtp-username", default=None)
@click.option("--smtp-password-env", metavar="VAR", help="read the SMTP password from $VAR")
@click.option("--from", "sender", help="PIN: sender address of the code emails")
@json_option
def idp_create(
    name: str,
    kind: str,
    issuer: str | None,
    client_id: str | None,
    client_secret_env: str | None,
    scopes: tuple[str, ...],
    email_claim: str | None,
    groups_claim: str | None,
    smtp_host: str | None,
    smtp_port: int | None,
    smtp_security: str | None,
    smtp_username: str | None,
    smtp_password_env: str | None,
    sender: str | None,
    as_json: bool,
) -> None:
    """Add an identity provider. Secrets are read from environment variables, never argv."""
    config: dict[str, Any]
    if kind == "oidc":
        config = {"issuer": issuer, "client_id": client_id}
        if scopes:
            config["scopes"] = list(scopes)
        if email_claim:
            config["email_claim"] = email_claim
        if groups_claim:
            config["groups_claim"] = groups_claim
        secret = _secret(None, client_secret_env, "client secret")
    else:
        config = {"smtp_host": smtp_host, "from": sender}
        if smtp_port is not None:
            config["smtp_port"] = smtp_port
        if smtp_security:
            config["smtp_security"] = smtp_security
        if smtp_username:
            config["smtp_username"] = smtp_username
        secret = _secret(None, smtp_password_env, "SMTP password")
    body = {"name": name, "type": kind, "config": config, "secret": secret}
    idp = ApiClient.from_saved().post("/identity/idps", json=body)
    if as_json:
        print_json(idp)
        return
    console.print(f"Created identity provider [bold]{idp['name']}[/] ({idp['type']}).")
    if kind == "oidc":
        console.print(f"Register this redirect URI with the provider: {idp['redirect_uri']}")


@idp_group.command("list")
@json_option
def idp_list(as_json: bool) -> None:
    """List identity providers (never their secrets)."""
    items = ApiClient.from_saved().get("/identity/idps")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["NAME", "TYPE", "ENABLED", "ISSUER / SMTP", "ID"],
        [
            (
                i["name"],
                i["type"],
                "yes" if i["enabled"] else "no",
                i["config"].get("issuer") or i["config"].get("smtp_host", ""),
                i["id"],
            )
            for i in items
        ],
    )


@idp_group.command("delete")
@click.argument("name")
@yes_option
def idp_delete(name: str, yes: bool) -> None:
    """Delete an identity provider."""
    if not yes:
        click.confirm(f"Delete identity provider {name}?", abort=True)
    ApiClient.from_saved().delete(f"/identity/idps/{name}")
    console.print(f"Deleted identity provider [bold]{name}[/].")


# -- groups, users, keys -------------------------------------------------------------------


@click.group("group")
def group_group() -> None:
    """Groups of email addresses, usable as group= in policies."""


@group_group.command("create")
@click.argument("name")
@click.option("--member", "members", multiple=True, help="email address (repeat)")
@json_option
def group_create(name: str, members: tuple[str, ...], as_json: bool) -> None:
    group = ApiClient.from_saved().post(
        "/identity/groups", json={"name": name, "members": list(members)}
    )
    if as_json:
        print_json(group)
        return
    console.print(f"Created group [bold]{group['name']}[/] with {len(group['members'])} members.")


@group_group.command("list")
@json_option
def group_list(as_json: bool) -> None:
    items = ApiClient.from_saved().get("/identity/groups")
    if as_json:
        print_json(items)
        return
    print_table(None, ["NAME", "MEMBERS"], [(g["name"], ", ".join(g["members"])) for g in items])


@group_group.command("delete")
@click.argument("name")
@yes_option
def group_delete(name: str, yes: bool) -> None:
    if not yes:
        click.confirm(f"Delete group {name}?", abort=True)
    ApiClient.from_saved().delete(f"/identity/groups/{name}")
    console.print(f"Deleted group [bold]{name}[/].")


@click.group("user")
def user_group() -> None:
    """People who logged in through Access."""


@user_group.command("list")
@json_option
def user_list(as_json: bool) -> None:
    items = ApiClient.from_saved().get_all("/identity/users")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["EMAIL", "NAME", "LAST LOGIN", "SESSIONS REVOKED"],
        [
            (u["email"], u["name"], u["last_login_at"], u["sessions_revoked_at"] or "")
            for u in items
        ],
    )


@user_group.command("revoke")
@click.argument("email")
def user_revoke(email: str) -> None:
    """Refuse every session issued to this user so far (they must log in again)."""
    ApiClient.from_saved().post(f"/identity/users/{email}/revoke-sessions")
    console.print(f"Revoked the sessions of [bold]{email}[/].")


@click.group("keys")
def keys_group() -> None:
    """The keys that sign Access tokens (published at /cdn-cgi/access/certs)."""


@keys_group.command("list")
@json_option
def keys_list(as_json: bool) -> None:
    items = ApiClient.from_saved().get("/access/keys")
    if as_json:
        print_json(items)
        return
    print_table(
        None,
        ["KID", "CREATED", "RETIRED", "SIGNING"],
        [
            (k["kid"], k["created_at"], k["retired_at"] or "", "yes" if k["signing"] else "")
            for k in items
        ],
    )


@keys_group.command("rotate")
def keys_rotate() -> None:
    """Sign with a new key; earlier keys stay published until their tokens have expired."""
    key = ApiClient.from_saved().post("/access/keys/rotate")
    console.print(f"New signing key [bold]{key['kid']}[/].")


COMMANDS = (
    app_group,
    policy_group,
    token_group,
    idp_group,
    group_group,
    user_group,
    keys_group,
)
