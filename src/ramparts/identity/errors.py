"""The identity package's errors. Every one of them means "not authenticated": callers fail
closed on any of them."""

from __future__ import annotations


class IdentityError(Exception):
    """Base class of every identity error."""


class TokenError(IdentityError):
    """A session token is malformed, forged, expired, or meant for another audience."""


class IdpError(IdentityError):
    """An identity provider answered something we cannot accept (or did not answer)."""


class IdpConfigError(IdentityError):
    """An identity provider's settings are invalid."""
