"""The Gateway policy language: parse, type-check and compile expressions; lists; policy sets.

Typical use, once per configuration snapshot (compiling 1,000,000 list entries takes about
half a second: run it off the event loop, e.g. ``asyncio.to_thread``)::

    lists = {"blocked": make_list("blocked", ListKind.DOMAIN, ["example.com"])}
    policies = compile_policy_set(rules, lists)
    decision = policies.evaluate(Context.DNS, dns_request("a.example.com", "A"))

Semantics where the documented syntax leaves room:

- ``dns.domains`` / ``http.request.domains`` hold the name and all its parent domains, so
  ``any(dns.domains[*] == "example.com")`` and a domain list entry ``example.com`` match
  ``a.b.example.com``; ``dns.fqdn`` and ``http.request.host`` compare exactly.
- Names are compared lower-case without the trailing dot; ``matches`` on them ignores case.
- A comparison on a field the request lacks (no identity, no port) is false, ``!=`` too;
  ``not (f == x)`` is true.
- In strings, ``\\"`` and ``\\\\`` are escapes and any other backslash is kept, so
  ``"\\."`` and ``"\\\\."`` give the regex the same ``\\.``; ``r"..."`` / ``r#"..."#``
  are raw strings.
- URL lists compare scheme-less ``host[:port]/path`` (no query, no trailing slash).
- ``matches`` takes the RE2 subset and refuses patterns that backtrack exponentially.
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
