"""Gateway HTTP policies applied to proxied traffic.

Order, as the documented product applies it: *Do Not Inspect* rules are looked at first and
win over every other rule (they decide whether a CONNECT tunnel is opened up at all); then
the HTTP rules in precedence order, first match wins, default allow. A CONNECT that is not
inspected is judged on what is known before the tunnel opens (host, port, addresses, user,
endpoint); URL, path and method rules cannot match it (a missing field compares false).
``http.response.content_type`` is only known once the origin answers: the request is judged
again with it then, and a block at that point replaces the response.
"""

from __future__ import annotations

from dataclasses import dataclass

from ramparts.config.gateway import GatewayConfig
from ramparts.policy import Context, Decision, PhasePolicies, PolicyRule

DO_NOT_INSPECT = frozenset({"off", "do_not_inspect"})
"""Action names of Do Not Inspect rules ("off" in the documented API)."""
PASS_ACTIONS = frozenset({"allow", "on", "noisolate", "noscan", "isolate", "scan"})
"""Actions that let traffic through here (isolation and scanning are not proxy features)."""


@dataclass(frozen=True, slots=True)
class Verdict:
    """What to do with one request or tunnel."""

    action: str  # allow | block | redirect | do_not_inspect
    rule: PolicyRule | None = None

    @property
    def blocked(self) -> bool:
        return self.action == "block"

    @property
    def policy_id(self) -> str:
        return self.rule.id if self.rule is not None else ""

    @property
    def policy_name(self) -> str:
        return self.rule.name if self.rule is not None else ""

    def setting(self, key: str) -> str:
        return str(self.rule.settings.get(key, "")) if self.rule is not None else ""


ALLOW = Verdict("allow")


class HttpPolicies:
    """The HTTP rules of one snapshot, split for the proxy (built once per snapshot)."""

    def __init__(self, gateway: GatewayConfig) -> None:
        rules = gateway.policies[Context.HTTP]
        self._all = rules
        self._dni = PhasePolicies(
            Context.HTTP, [c for c in rules.rules if c.rule.action in DO_NOT_INSPECT]
        )
        self.has_rules = len(rules) > 0

    def do_not_inspect(self, request: dict[str, object]) -> Verdict | None:
        """The Do Not Inspect rule matching a tunnel, if any."""
        if not len(self._dni):
            return None
        decision = self._dni.evaluate(request)
        return Verdict("do_not_inspect", decision.rule) if decision.rule is not None else None

    def decide(self, request: dict[str, object]) -> Verdict:
        if not self.has_rules:
            return ALLOW
        return _verdict(self._all.evaluate(request))


def _verdict(decision: Decision) -> Verdict:
    action = decision.action
    if action in DO_NOT_INSPECT:
        return Verdict("do_not_inspect", decision.rule)
    if action == "block" or action == "redirect":
        return Verdict(action, decision.rule)
    return Verdict("allow", decision.rule) if action in PASS_ACTIONS else ALLOW
