"""Safe search by DNS: search engines' documented safe endpoints, answered as a CNAME.

- Google: every Google search domain -> ``forcesafesearch.google.com`` (Google Workspace
  help "Lock SafeSearch for devices and networks").
- Bing: ``www.bing.com`` / ``bing.com`` -> ``strict.bing.com`` (Microsoft "Block adult
  content with SafeSearch").
- DuckDuckGo: ``duckduckgo.com`` and its ``www``/``start``/``html`` hosts ->
  ``safe.duckduckgo.com`` (DuckDuckGo help "Safe search").
- YouTube: the five names Google lists for YouTube Restricted Mode -> ``restrict.youtube.com``
  (strict) or ``restrictmoderate.youtube.com`` (moderate).
"""

from __future__ import annotations

from typing import Final

GOOGLE_SAFE: Final = "forcesafesearch.google.com"
BING_SAFE: Final = "strict.bing.com"
DUCKDUCKGO_SAFE: Final = "safe.duckduckgo.com"
YOUTUBE_STRICT: Final = "restrict.youtube.com"
YOUTUBE_MODERATE: Final = "restrictmoderate.youtube.com"

YOUTUBE_NAMES: Final = frozenset(
    {
        "www.youtube.com",
        "m.youtube.com",
        "youtubei.googleapis.com",
        "youtube.googleapis.com",
        "www.youtube-nocookie.com",
    }
)
BING_NAMES: Final = frozenset({"bing.com", "www.bing.com"})
DUCKDUCKGO_NAMES: Final = frozenset(
    {"duckduckgo.com", "www.duckduckgo.com", "start.duckduckgo.com", "html.duckduckgo.com"}
)
_GOOGLE_SECOND_LEVEL: Final = frozenset({"co", "com"})
_COUNTRY_CODE_LENGTH: Final = 2


def _google_search_domain(name: str) -> bool:
    """``google.<tld>``, ``google.co.<cc>`` or ``google.com.<cc>`` with or without ``www.``
    (the shape of every entry of Google's supported-domains list)."""
    labels = name.split(".")
    if labels[0] == "www":
        labels = labels[1:]
    if len(labels) < 2 or labels[0] != "google":
        return False
    rest = labels[1:]
    if len(rest) == 1:
        return rest[0] == "com" or len(rest[0]) == _COUNTRY_CODE_LENGTH
    if len(rest) == 2:
        return rest[0] in _GOOGLE_SECOND_LEVEL and len(rest[1]) == _COUNTRY_CODE_LENGTH
    return False


def safe_target(name: str, action: str, youtube: str = "strict") -> str | None:
    """The safe endpoint for ``name`` (lower-case, no final dot) under ``action``
    (``safesearch`` covers every engine, ``ytrestricted`` only YouTube), or ``None`` when the
    name is not one to rewrite. ``youtube`` is ``strict`` or ``moderate``."""
    if name in YOUTUBE_NAMES:
        return YOUTUBE_MODERATE if youtube == "moderate" else YOUTUBE_STRICT
    if action != "safesearch":
        return None
    if name in BING_NAMES:
        return BING_SAFE
    if name in DUCKDUCKGO_NAMES:
        return DUCKDUCKGO_SAFE
    if _google_search_domain(name):
        return GOOGLE_SAFE
    return None
