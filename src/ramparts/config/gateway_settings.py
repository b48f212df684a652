"""Action settings of Gateway policies: which keys each (phase, action) takes, and their values.

This is the contract between the API (which refuses what does not fit, naming
``settings.<key>``) and the services that act on a decision (DNS resolver, proxy). Values
stay strings; services parse them again cheaply (they are already known to be valid).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Callable, Mapping
from urllib.parse import urlsplit

from ramparts.policy import Context
from ramparts.policy.domainset import normalize_domain

#: Keys one policy may carry, and the longest value (a list of upstreams, a redirect URL).
MAX_SETTINGS = 32
MAX_SETTING_KEY_CHARS = 64
MAX_SETTING_VALUE_CHARS = 2048
#: Addresses in one override answer; a DNS answer with more would need truncation anyway.
MAX_OVERRIDE_IPS = 16
#: Bootstrap addresses of an ad-hoc resolver upstream (config.dns uses the same bound).
MAX_BOOTSTRAP = 8


class SettingError(ValueError):
    """A setting is unknown or its value is wrong; ``key`` names it."""

    def __init__(self, key: str, reason: str):
        super().__init__(reason)
        self.key = key
        self.reason = reason


Check = Callable[[str], str]


def _ip_list(limit: int) -> Check:
    def check(value: str) -> str:
        parts = [p.strip() for p in value.split(",") if p.strip()]
        if not parts:
            raise ValueError("give at least one IP address")
        if len(parts) > limit:
            raise ValueError(f"at most {limit} addresses")
        out = []
        for part in parts:
            try:
                out.append(str(ipaddress.ip_address(part)))
            except ValueError:
                raise ValueError(f"{part!r} is not an IP address") from None
        return ",".join(out)

    return check


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError(f"{value!r} is not an IP address") from None


def _domain(value: str) -> str:
    name = normalize_domain(value)
    if name is None:
        raise ValueError(f"{value!r} is not a domain name")
    return name


def _port(value: str) -> str:
    if not value.strip().isdigit() or not 1 <= int(value) <= 65535:
        raise ValueError(f"{value!r} is not a port (1-65535)")
    return str(int(value))


def _choice(*allowed: str) -> Check:
    def check(value: str) -> str:
        v = value.strip().lower()
        if v not in allowed:
            raise ValueError(f"{value!r} is not one of: {', '.join(allowed)}")
        return v

    return check


def _text(value: str) -> str:
    if any(not c.isprintable() for c in value):
        raise ValueError("only printable characters")
    return value


def _upstream(value: str) -> str:
    parts = [p.strip() for p in value.split(",") if p.strip()]
    if not parts:
        raise ValueError("give an upstream name or address (udp://, tcp://, tls://, https://)")
    for part in parts:
        if any(c.isspace() for c in part) or not part.isprintable():
            raise ValueError(f"{part!r} is not an upstream")
    return ",".join(parts)


def _http_url(value: str) -> str:
    try:
        parts = urlsplit(value.strip())
    except ValueError:
        raise ValueError(f"{value!r} is not a URL") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("give an absolute http:// or https:// URL")
    return value.strip()


_ON_OFF = _choice("on", "off")
_BLOCK: dict[str, Check] = {"block_page": _ON_OFF, "block_reason": _text}

#: (phase, action) -> key -> check. Actions absent here take no settings.
SETTINGS: Mapping[tuple[Context, str], Mapping[str, Check]] = {
    (Context.DNS, "block"): _BLOCK,
    (Context.DNS, "override"): {
        "override_ips": _ip_list(MAX_OVERRIDE_IPS),
        "override_host": _domain,
    },
    (Context.DNS, "safesearch"): {"youtube": _choice("strict", "moderate")},
    (Context.DNS, "ytrestricted"): {"youtube": _choice("strict", "moderate")},
    (Context.DNS_POST, "block"): _BLOCK,
    (Context.DNS_POST, "override"): {"override_ips": _ip_list(MAX_OVERRIDE_IPS)},
    (Context.DNS_RESOLVER, "resolve"): {
        "upstream": _upstream,
        "bootstrap": _ip_list(MAX_BOOTSTRAP),
        "tls_name": _domain,
    },
    (Context.NETWORK, "block"): {"block_reason": _text},
    (Context.NETWORK, "l4_override"): {"override_ip": _ip, "override_port": _port},
    (Context.HTTP, "block"): _BLOCK,
    (Context.HTTP, "redirect"): {"redirect_url": _http_url},
}

#: Settings an action cannot do without: (phase, action) -> alternatives, one is required.
REQUIRED: Mapping[tuple[Context, str], tuple[str, ...]] = {
    (Context.DNS, "override"): ("override_ips", "override_host"),
    (Context.DNS_POST, "override"): ("override_ips",),
    (Context.DNS_RESOLVER, "resolve"): ("upstream",),
    (Context.NETWORK, "l4_override"): ("override_ip",),
    (Context.HTTP, "redirect"): ("redirect_url",),
}


def check_settings(phase: Context, action: str, settings: Mapping[str, str]) -> dict[str, str]:
    """Validated, normalised settings; raises :class:`SettingError` naming the key."""
    known = SETTINGS.get((phase, action), {})
    if len(settings) > MAX_SETTINGS:
        raise SettingError("", f"at most {MAX_SETTINGS} settings")
    out: dict[str, str] = {}
    for key, value in settings.items():
        check = known.get(key)
        if check is None:
            names = ", ".join(sorted(known)) or "none"
            raise SettingError(
                key, f"not a setting of {phase.value} {action!r} policies (they take: {names})"
            )
        try:
            out[key] = check(value)
        except ValueError as exc:
            raise SettingError(key, str(exc)) from None
    required = REQUIRED.get((phase, action), ())
    if required and not any(k in out for k in required):
        raise SettingError(
            required[0],
            f"{phase.value} {action!r} policies need " + " or ".join(required),
        )
    return out
