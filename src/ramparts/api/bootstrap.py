"""First start of a control plane: schema, team, CA, config version, first admin token."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from ramparts.api.context import TeamInfo
from ramparts.pki.ca import TeamCA
from ramparts.store import Database, StoreUnavailable
from ramparts.store.repositories import team as team_repo
from ramparts.store.repositories import tokens, versions

log = logging.getLogger(__name__)

FIRST_TOKEN_NAME = "admin"  # noqa: S105 - a name, not a secret


@dataclass(frozen=True, slots=True)
class Bootstrapped:
    team: TeamInfo
    ca: TeamCA
    admin_token: str | None  # set only on the very first start


def bootstrap(db: Database, data_dir: Path, team_name: str, team_domain: str) -> Bootstrapped:
    db.migrate()
    ca = TeamCA.load_or_create(data_dir, team_name)
    with db.transaction() as session:
        team = team_repo.get(session)
        if team is None:
            team = team_repo.create(
                session,
                name=team_name,
                domain=team_domain,
                ca_cert_pem=ca.cert_pem.decode(),
                ca_fingerprint=ca.fingerprint,
            )
            log.info("team created", extra={"team": team_name, "domain": team_domain})
        elif team.ca_fingerprint != ca.fingerprint:
            raise StoreUnavailable(
                f"the CA in {data_dir} ({ca.fingerprint}) is not the team's CA "
                f"({team.ca_fingerprint}); point --data-dir at the directory that holds it"
            )
        versions.ensure_row(session)
        admin_token = None
        if tokens.count_active(session) == 0:
            admin_token = tokens.create(session, FIRST_TOKEN_NAME).secret
        info = TeamInfo(team.name, team.domain, team.ca_fingerprint, team.ca_cert_pem)
    return Bootstrapped(info, ca, admin_token)
