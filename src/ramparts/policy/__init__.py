"""The Gateway policy language: parse, type-check and compile expressions; lists; policy sets.

Typical use, once per configuration snapshot::

    lists = {"blocked": make_list("blocked", ListKind.DOMAIN, ["example.com"])}
    policies = compile_policy_set(rules, lists)
    decision = policies.evaluate(Context.DNS, dns_request("a.example.com", "A"))
"""

from ramparts.policy.compiler import Predicate, compile_expression
from ramparts.policy.errors import (
    ExpressionError,
    ListFormatError,
    PolicyCompileError,
    PolicyError,
    PolicyRuleError,
    PolicySyntaxError,
)
from ramparts.policy.fields import FIELDS, PHASES, Context, Field, FieldType
from ramparts.policy.lists import ListKind, PolicyList, make_list
from ramparts.policy.policyset import (
    ACTIONS,
    Decision,
    PhasePolicies,
    PolicyRule,
    PolicySet,
    compile_policy_set,
    compile_rule,
)
from ramparts.policy.request import (
    Identity,
    RequestError,
    build_request,
    dns_request,
    http_request,
    network_request,
)

#: The name used by the design notes: ``compile(expr, context, lists) -> Predicate``.
compile = compile_expression

__all__ = [
    "ACTIONS",
    "FIELDS",
    "PHASES",
    "Context",
    "Decision",
    "ExpressionError",
    "Field",
    "FieldType",
    "Identity",
    "ListFormatError",
    "ListKind",
    "PhasePolicies",
    "PolicyCompileError",
    "PolicyError",
    "PolicyList",
    "PolicyRule",
    "PolicyRuleError",
    "PolicySet",
    "PolicySyntaxError",
    "Predicate",
    "RequestError",
    "build_request",
    "compile",
    "compile_expression",
    "compile_policy_set",
    "compile_rule",
    "dns_request",
    "http_request",
    "make_list",
    "network_request",
]
