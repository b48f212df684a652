"""`ramparts login`: check a token against an API and save both for later commands."""

from __future__ import annotations

import click

from ramparts.cli import credentials
from ramparts.cli.client import ApiClient
from ramparts.cli.output import console


@click.command()
@click.option("--api", "api_url", required=True, help="API base URL, e.g. http://127.0.0.1:7840")
@click.option(
    "--token",
    envvar=credentials.ENV_TOKEN,
    required=True,
    help="admin API token (or $RAMPARTS_TOKEN)",
)
def login(api_url: str, token: str) -> None:
    """Verify the token and store the API URL and token (mode 0600)."""
    creds = credentials.Credentials(api_url.rstrip("/"), token.strip())
    status = ApiClient(creds).get("/status")
    path = credentials.save(creds)
    credentials.save_ca(str(status["ca_cert_pem"]))
    console.print(
        f"Logged in to team [bold]{status['team_domain']}[/] at {creds.api_url}; "
        f"credentials saved in {path}"
    )
