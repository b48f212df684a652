"""The Gateway part of a snapshot: compiled policy sets (every phase) and the lists they use.

Built from the store when a snapshot is built (compilation happens once per snapshot, on the
edge, off the event loop); DNS, proxy and network services only read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from ramparts.policy import PolicyList, PolicySet, compile_policy_set


@dataclass(frozen=True, slots=True)
class GatewayConfig:
    policies: PolicySet
    lists: Mapping[str, PolicyList] = field(default_factory=lambda: MappingProxyType({}))
    # Rules that failed to compile against this snapshot (skipped; "name: reason").
    rule_errors: tuple[str, ...] = ()


def empty_gateway() -> GatewayConfig:
    return GatewayConfig(policies=compile_policy_set([], {}))
