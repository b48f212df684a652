"""Identity: who a request comes from.

Users and groups (store), identity providers (OIDC with PKCE, one-time PIN by email), the
RS256 session tokens Access issues (team session, one per application), their signing keys
(published as a JWKS, rotated with an overlap) and service tokens for machines.

Everything here is data and pure functions except ``oidc`` (HTTP to the IdP, through a client
the caller owns) and ``mailer`` (SMTP off the event loop).
"""
