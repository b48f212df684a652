"""Policy rules, their compilation into per-phase sets, and first-match evaluation."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from ramparts.policy import ir
from ramparts.policy.closures import Request, Test, build
from ramparts.policy.compiler import compile_expression
from ramparts.policy.errors import PolicyError, PolicyRuleError
from ramparts.policy.fields import PHASES, Context
from ramparts.policy.index import RuleIndex
from ramparts.policy.lists import PolicyList

#: Actions each phase accepts (the documented product's API names).
ACTIONS: Mapping[Context, frozenset[str]] = {
    Context.DNS: frozenset({"allow", "block", "override", "safesearch", "ytrestricted"}),
    Context.DNS_POST: frozenset({"allow", "block", "override"}),
    Context.DNS_RESOLVER: frozenset({"resolve"}),
    Context.NETWORK: frozenset({"allow", "block", "audit_ssh", "l4_override"}),
    Context.HTTP: frozenset(
        {
            "allow",
            "block",
            "redirect",
            "do_not_inspect",  # the same as "off" (the documented API's name for it)
            "on",
            "off",
            "isolate",
            "noisolate",
            "scan",
            "noscan",
        }
    ),
}
#: What happens when no rule matches.
DEFAULT_ACTIONS: Mapping[Context, str] = {
    Context.DNS: "allow",
    Context.DNS_POST: "allow",
    Context.DNS_RESOLVER: "resolve",
    Context.NETWORK: "allow",
    Context.HTTP: "allow",
}


@dataclass(frozen=True, slots=True)
class PolicyRule:
    """One Gateway policy as stored. ``expression`` filters traffic; ``identity`` (optional)
    is a second expression over identity fields only; a rule matches when both do.
    An empty expression matches everything, but a rule needs at least one of the two."""

    id: str
    name: str
    phase: Context
    expression: str
    action: str
    precedence: int = 0
    enabled: bool = True
    identity: str = ""
    #: Action settings (override IPs, block page, upstream...); not part of the hash.
    settings: Mapping[str, str] = field(default_factory=dict, hash=False)


@dataclass(frozen=True, slots=True)
class Decision:
    """The verdict for one request: the action, and the rule that decided it (None: default)."""

    phase: Context
    action: str
    rule: PolicyRule | None = None

    @property
    def matched(self) -> bool:
        return self.rule is not None

    @property
    def settings(self) -> Mapping[str, str]:
        return self.rule.settings if self.rule is not None else {}


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: PolicyRule
    node: ir.Node
    test: Test
    decision: Decision


def compile_rule(rule: PolicyRule, lists: Mapping[str, PolicyList]) -> CompiledRule:
    """Compile one rule; raises :class:`PolicyRuleError` naming the rule and the part."""
    if rule.phase not in PHASES:
        raise PolicyRuleError(
            rule.id, rule.name, "phase", PolicyError(f"{rule.phase.value!r} is not a rule phase")
        )
    if rule.action not in ACTIONS[rule.phase]:
        allowed = ", ".join(sorted(ACTIONS[rule.phase]))
        raise PolicyRuleError(
            rule.id,
            rule.name,
            "action",
            PolicyError(
                f"action {rule.action!r} is not valid in {rule.phase.value} policies ({allowed})"
            ),
        )
    parts: list[ir.Node] = []
    for part, source, context in (
        ("expression", rule.expression, rule.phase),
        ("identity expression", rule.identity, Context.IDENTITY),
    ):
        if not source.strip():
            continue
        try:
            parts.append(compile_expression(source, context, lists).node)
        except PolicyError as exc:
            raise PolicyRuleError(rule.id, rule.name, part, exc) from exc
    if not parts:
        raise PolicyRuleError(
            rule.id,
            rule.name,
            "expression",
            PolicyError("a rule needs a traffic or an identity expression"),
        )
    node = parts[0] if len(parts) == 1 else ir.AllOf(tuple(parts))
    return CompiledRule(rule, node, build(node), Decision(rule.phase, rule.action, rule))


class PhasePolicies:
    """The enabled rules of one phase in precedence order, with their index."""

    def __init__(self, phase: Context, rules: Iterable[CompiledRule]):
        self.phase = phase
        self.rules = tuple(sorted(rules, key=lambda c: (c.rule.precedence, c.rule.id)))
        self.default = Decision(phase, DEFAULT_ACTIONS[phase])
        self._tests = tuple(c.test for c in self.rules)
        self._decisions = tuple(c.decision for c in self.rules)
        self.index = RuleIndex([c.node for c in self.rules])

    def __len__(self) -> int:
        return len(self.rules)

    def evaluate(self, request: Request) -> Decision:
        """First matching rule by ascending precedence, or the default decision."""
        tests = self._tests
        for pos in self.index.candidates(request):
            if tests[pos](request):
                return self._decisions[pos]
        return self.default

    def evaluate_linear(self, request: Request) -> Decision:
        """Same result as :meth:`evaluate`, trying every rule in order (reference, tests)."""
        for test, decision in zip(self._tests, self._decisions, strict=True):
            if test(request):
                return decision
        return self.default

    def matching(self, request: Request) -> list[PolicyRule]:
        """Every rule that matches, in precedence order (for ``ramparts policy test``)."""
        return [c.rule for c in self.rules if c.test(request)]


class PolicySet:
    """Compiled rules of every phase. Immutable: build a new one for a new snapshot."""

    def __init__(self, phases: Mapping[Context, PhasePolicies]):
        self._phases = dict(phases)

    def __getitem__(self, phase: Context) -> PhasePolicies:
        return self._phases[phase]

    def evaluate(self, phase: Context, request: Request) -> Decision:
        return self._phases[phase].evaluate(request)


def compile_policy_set(
    rules: Iterable[PolicyRule], lists: Mapping[str, PolicyList] | None = None
) -> PolicySet:
    """Compile every enabled rule. Disabled rules are still checked so errors surface early."""
    lists = lists if lists is not None else {}
    by_phase: dict[Context, list[CompiledRule]] = {p: [] for p in PHASES}
    for rule in rules:
        compiled = compile_rule(rule, lists)
        if rule.enabled:
            by_phase[rule.phase].append(compiled)
    return PolicySet({p: PhasePolicies(p, c) for p, c in by_phase.items()})
