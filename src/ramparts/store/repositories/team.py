"""The team row: name, domain and the CA certificate edges and clients pin."""

from __future__ import annotations

from sqlalchemy.orm import Session

from ramparts.store.models import Team

TEAM_ROW_ID = 1


def get(session: Session) -> Team | None:
    return session.get(Team, TEAM_ROW_ID)


def create(
    session: Session, *, name: str, domain: str, ca_cert_pem: str, ca_fingerprint: str
) -> Team:
    team = Team(
        id=TEAM_ROW_ID,
        name=name,
        domain=domain,
        ca_cert_pem=ca_cert_pem,
        ca_fingerprint=ca_fingerprint,
    )
    session.add(team)
    session.flush()
    return team
