"""The vocabulary of Access policies: actions, selectors, rules, and their validation.

A policy has one action and three rule lists: ``include`` (any must match), ``require`` (all
must match) and ``exclude`` (none may match). A rule is ``kind=value`` text (``email=a@x.com``,
``group=eng``, ``ip=10.0.0.0/8``, ``everyone``…); :func:`parse_rule` is the one place where that
text becomes a :class:`Rule`. Evaluation lives in ``ramparts.access.evaluate``.
"""

from __future__ import annotations

import enum
import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

RULE_MAX_CHARS = 320  # one rule's text (an email address is at most 254 + the kind)
MAX_RULES_PER_LIST = 1000  # include/require/exclude entries of one policy
DOMAIN_MAX = 253  # RFC 1035 §2.3.4

IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


class RuleError(ValueError):
    """A rule or policy is not valid; ``field`` names the part that is wrong."""

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class Action(enum.StrEnum):
    ALLOW = "allow"
    BLOCK = "block"
    BYPASS = "bypass"  # no login, no identity headers: public paths
    SERVICE_AUTH = "service_auth"  # machines with a service token, no login


class Selector(enum.StrEnum):
    EMAIL = "email"
    EMAIL_DOMAIN = "email_domain"
    GROUP = "group"
    IDP = "idp"  # the login method (identity provider id or name)
    IP = "ip"
    SERVICE_TOKEN = "service_token"  # noqa: S105 - a specific token (id, name or client id)
    ANY_SERVICE_TOKEN = "any_service_token"  # noqa: S105 - a selector name
    EVERYONE = "everyone"


NO_VALUE = frozenset({Selector.ANY_SERVICE_TOKEN, Selector.EVERYONE})
IDENTITY_SELECTORS = frozenset(
    {Selector.EMAIL, Selector.EMAIL_DOMAIN, Selector.GROUP, Selector.IDP}
)
TOKEN_SELECTORS = frozenset({Selector.SERVICE_TOKEN, Selector.ANY_SERVICE_TOKEN})

# Which selectors each action may use: bypass and service auth run before any login, so they
# cannot look at who the user is; allow and block are about users, not machines.
ALLOWED_SELECTORS: dict[Action, frozenset[Selector]] = {
    Action.BYPASS: frozenset({Selector.IP, Selector.EVERYONE}),
    Action.SERVICE_AUTH: frozenset({Selector.IP, Selector.EVERYONE} | TOKEN_SELECTORS),
    Action.ALLOW: frozenset(Selector) - TOKEN_SELECTORS,
    Action.BLOCK: frozenset(Selector) - TOKEN_SELECTORS,
}

ALIASES = {
    "emails": Selector.EMAIL,
    "domain": Selector.EMAIL_DOMAIN,
    "email-domain": Selector.EMAIL_DOMAIN,
    "groups": Selector.GROUP,
    "login_method": Selector.IDP,
    "login-method": Selector.IDP,
    "ip_range": Selector.IP,
    "ip-range": Selector.IP,
    "service-token": Selector.SERVICE_TOKEN,
    "any-service-token": Selector.ANY_SERVICE_TOKEN,
}

_DOMAIN = re.compile(r"^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)*[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$")
_NAME = re.compile(r"^[^\x00-\x1f\x7f]{1,256}$")


@dataclass(frozen=True, slots=True)
class Rule:
    """One selector with its normalised value ("" for everyone / any_service_token)."""

    selector: Selector
    value: str = ""
    network: IpNetwork | None = None  # parsed once for ``ip``

    @property
    def text(self) -> str:
        return str(self.selector) if self.selector in NO_VALUE else f"{self.selector}={self.value}"


def parse_rule(text: str) -> Rule:
    """``kind=value`` (or a bare ``everyone`` / ``any_service_token``) -> Rule."""
    if not isinstance(text, str) or not text.strip() or len(text) > RULE_MAX_CHARS:
        raise RuleError("a rule is non-empty text of at most 320 characters")
    kind, sep, value = text.strip().partition("=")
    return make_rule(kind.strip(), value.strip() if sep else None)


def make_rule(kind: str, value: str | None) -> Rule:
    name = kind.lower()
    try:
        selector = ALIASES.get(name) or Selector(name)
    except ValueError:
        known = ", ".join(s.value for s in Selector)
        raise RuleError(f"unknown selector {kind!r} (known: {known})") from None
    if selector in NO_VALUE:
        if value:
            raise RuleError(f"{selector} takes no value")
        return Rule(selector)
    if not value:
        raise RuleError(f"{selector} needs a value ({selector}=...)")
    if selector is Selector.EMAIL:
        return Rule(selector, _email(value))
    if selector is Selector.EMAIL_DOMAIN:
        return Rule(selector, _domain(value.removeprefix("@")))
    if selector is Selector.IP:
        try:
            network = ipaddress.ip_network(value, strict=False)
        except ValueError:
            raise RuleError(f"{value!r} is not an IP address or CIDR") from None
        return Rule(selector, str(network), network)
    if not _NAME.match(value):
        raise RuleError(f"{selector} value must be printable text of at most 256 characters")
    return Rule(selector, value)


def parse_rules(texts: Iterable[str], field: str) -> tuple[Rule, ...]:
    rules: list[Rule] = []
    for i, text in enumerate(texts):
        if i >= MAX_RULES_PER_LIST:
            raise RuleError(f"at most {MAX_RULES_PER_LIST} rules", field)
        try:
            rules.append(parse_rule(text))
        except RuleError as exc:
            raise RuleError(str(exc), f"{field}.{i}") from None
    return tuple(dict.fromkeys(rules))


def validate_policy(
    action: Action, include: Sequence[Rule], require: Sequence[Rule], exclude: Sequence[Rule]
) -> None:
    """A policy needs an include rule; each action accepts only the selectors it can use."""
    if not include:
        raise RuleError("a policy needs at least one include rule", "include")
    allowed = ALLOWED_SELECTORS[action]
    for field, rules in (("include", include), ("require", require), ("exclude", exclude)):
        for i, rule in enumerate(rules):
            if rule.selector not in allowed:
                raise RuleError(
                    f"{rule.selector} cannot be used in a {action} policy "
                    f"(allowed: {', '.join(sorted(allowed))})",
                    f"{field}.{i}",
                )
    if action is Action.SERVICE_AUTH and not any(
        r.selector in TOKEN_SELECTORS | {Selector.EVERYONE} for r in include
    ):
        raise RuleError(
            "a service_auth policy must include service_token, any_service_token or everyone",
            "include",
        )


def _email(value: str) -> str:
    local, at, domain = value.rpartition("@")
    if not at or not local or len(value) > 254 or any(c.isspace() for c in value):
        raise RuleError(f"{value!r} is not an email address")
    return f"{local.lower()}@{_domain(domain)}"


def _domain(value: str) -> str:
    try:
        ascii_name = value.encode("idna").decode("ascii").lower().rstrip(".")
    except UnicodeError:
        raise RuleError(f"{value!r} is not a domain name") from None
    if not ascii_name or len(ascii_name) > DOMAIN_MAX or not _DOMAIN.match(ascii_name):
        raise RuleError(f"{value!r} is not a domain name")
    return ascii_name
