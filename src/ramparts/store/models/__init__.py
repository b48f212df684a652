"""ORM models, one module per capability. Every schema change goes through an Alembic migration.

Each capability's module is imported here so that ``Base.metadata`` knows every table.
"""

from ramparts.store.models.access import AccessApplication, AccessPolicy
from ramparts.store.models.base import NAME_MAX, Base, new_id, utcnow
from ramparts.store.models.core import (
    ApiToken,
    AuditEvent,
    ConfigVersion,
    EdgeNode,
    Route,
    Team,
    Tunnel,
    TunnelCredential,
    VirtualNetwork,
)
from ramparts.store.models.dns import (
    DnsEndpoint,
    DnsLocation,
    DnsQuery,
    DnsSettings,
    DnsUpstream,
)
from ramparts.store.models.identity import (
    AccessSigningKey,
    IdentityGroup,
    IdentityGroupMember,
    IdentityProvider,
    IdentityUser,
    OtpChallenge,
    ServiceToken,
)
from ramparts.store.models.policy import (
    GatewayList,
    GatewayListContent,
    GatewayListUpload,
    GatewayListUploadPart,
    GatewayPolicy,
)
from ramparts.store.models.proxy import (
    ProxyEndpoint,
    ProxyListener,
    ProxyRequest,
    ProxySession,
    ProxyToken,
)
from ramparts.store.models.tunnel import (
    TunnelConfiguration,
    TunnelConnectionRecord,
    TunnelHostname,
)

__all__ = [
    "NAME_MAX",
    "AccessApplication",
    "AccessPolicy",
    "AccessSigningKey",
    "ApiToken",
    "AuditEvent",
    "Base",
    "ConfigVersion",
    "DnsEndpoint",
    "DnsLocation",
    "DnsQuery",
    "DnsSettings",
    "DnsUpstream",
    "EdgeNode",
    "GatewayList",
    "GatewayListContent",
    "GatewayListUpload",
    "GatewayListUploadPart",
    "GatewayPolicy",
    "IdentityGroup",
    "IdentityGroupMember",
    "IdentityProvider",
    "IdentityUser",
    "OtpChallenge",
    "ProxyEndpoint",
    "ProxyListener",
    "ProxyRequest",
    "ProxySession",
    "ProxyToken",
    "Route",
    "ServiceToken",
    "Team",
    "Tunnel",
    "TunnelConfiguration",
    "TunnelConnectionRecord",
    "TunnelCredential",
    "TunnelHostname",
    "VirtualNetwork",
    "new_id",
    "utcnow",
]
