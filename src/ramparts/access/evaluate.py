"""Access policy evaluation, as the brief's product documents it.

1. ``bypass`` and ``service_auth`` policies, in precedence order: the first that matches
   decides (bypass: in without login; service auth: in with a valid service token).
2. A request that presented a valid service token and matched no service-auth policy is
   refused: machines do not log in.
3. Without a login, the answer is "log in first" when the application has an allow policy,
   else "denied" (an application with no allow policy lets nobody in).
4. ``allow`` and ``block`` policies, in precedence order: the first that matches decides.
5. Nothing matched: denied.

A policy matches when any ``include`` rule, every ``require`` rule and no ``exclude`` rule
matches. Pure: the subject carries everything a rule may look at.
"""

from __future__ import annotations

import enum
import ipaddress
from dataclasses import dataclass

from ramparts.config.access import AccessApp, CompiledPolicy
from ramparts.config.access_rules import Action, Rule, Selector
from ramparts.identity.tokens import Identity

IpAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


class Verdict(enum.StrEnum):
    BYPASS = "bypass"
    SERVICE_AUTH = "service_auth"
    ALLOW = "allow"
    BLOCK = "block"
    LOGIN = "login"  # no identity yet, and a login could get the user in
    DENY = "deny"


@dataclass(frozen=True, slots=True)
class Subject:
    """Who asks: the client address, the logged-in user (if any) with every group it is in
    (IdP groups and store groups), the service token it authenticated with (if any)."""

    client_ip: IpAddress | None = None
    identity: Identity | None = None
    groups: frozenset[str] = frozenset()
    service_token_id: str | None = None


@dataclass(frozen=True, slots=True)
class Evaluation:
    verdict: Verdict
    policy: CompiledPolicy | None = None  # the policy that decided, if one did

    @property
    def granted(self) -> bool:
        return self.verdict in (Verdict.BYPASS, Verdict.SERVICE_AUTH, Verdict.ALLOW)


_PRE_LOGIN = (Action.BYPASS, Action.SERVICE_AUTH)


def evaluate(app: AccessApp, subject: Subject) -> Evaluation:
    for policy in app.policies:
        if policy.action in _PRE_LOGIN and policy_matches(policy, subject):
            if policy.action is Action.BYPASS:
                return Evaluation(Verdict.BYPASS, policy)
            return Evaluation(Verdict.SERVICE_AUTH, policy)
    if subject.service_token_id is not None:
        return Evaluation(Verdict.DENY)
    if subject.identity is None:
        if any(p.action is Action.ALLOW for p in app.policies):
            return Evaluation(Verdict.LOGIN)
        return Evaluation(Verdict.DENY)
    for policy in app.policies:
        if policy.action not in _PRE_LOGIN and policy_matches(policy, subject):
            verdict = Verdict.ALLOW if policy.action is Action.ALLOW else Verdict.BLOCK
            return Evaluation(verdict, policy)
    return Evaluation(Verdict.DENY)


def policy_matches(policy: CompiledPolicy, subject: Subject) -> bool:
    if policy.action is Action.SERVICE_AUTH and subject.service_token_id is None:
        return False  # service auth is for requests that carry a valid service token
    if policy.action in (Action.ALLOW, Action.BLOCK) and subject.identity is None:
        return False
    return (
        any(rule_matches(r, subject) for r in policy.include)
        and all(rule_matches(r, subject) for r in policy.require)
        and not any(rule_matches(r, subject) for r in policy.exclude)
    )


def rule_matches(rule: Rule, subject: Subject) -> bool:
    selector = rule.selector
    if selector is Selector.EVERYONE:
        return True
    if selector is Selector.IP:
        return (
            subject.client_ip is not None
            and rule.network is not None
            and subject.client_ip.version == rule.network.version
            and subject.client_ip in rule.network
        )
    if selector is Selector.ANY_SERVICE_TOKEN:
        return subject.service_token_id is not None
    if selector is Selector.SERVICE_TOKEN:
        return subject.service_token_id is not None and subject.service_token_id == rule.value
    identity = subject.identity
    if identity is None:
        return False
    if selector is Selector.EMAIL:
        return identity.email.lower() == rule.value
    if selector is Selector.EMAIL_DOMAIN:
        local, at, domain = identity.email.lower().rpartition("@")
        return bool(at and local) and domain == rule.value
    if selector is Selector.GROUP:
        return rule.value in subject.groups
    return identity.idp_id == rule.value  # Selector.IDP, the last one


def parse_client_ip(text: str) -> IpAddress | None:
    try:
        address = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address
