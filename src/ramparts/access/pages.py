"""HTML of the team domain: login, one-time PIN forms, launcher, logout, messages.

Every value is escaped; pages carry no script and forbid framing (see ``PAGE_HEADERS``).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

PAGE_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
    "form-action 'self' https: http:; frame-ancestors 'none'",
    # same-origin: our own form posts carry a real Origin (no-referrer would send "null"),
    # and hand-over URLs never leak to other sites.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
}

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f4f5f7;margin:0;color:#1d2330}"
    "main{max-width:26rem;margin:8vh auto;background:#fff;padding:2rem;border-radius:8px;"
    "box-shadow:0 1px 4px #0002}h1{font-size:1.3rem;margin-top:0}"
    "button,input{font-size:1rem;padding:.6rem;width:100%;box-sizing:border-box;margin:.3rem 0}"
    "button{background:#2456d3;color:#fff;border:0;border-radius:4px;cursor:pointer}"
    "form{margin:.8rem 0}.err{color:#b00020}.muted{color:#667}ul{padding-left:1.2rem}"
    "a{color:#2456d3}"
)


@dataclass(frozen=True, slots=True)
class IdpButton:
    id: str
    name: str
    type: str  # oidc: a button; otp: an email field


@dataclass(frozen=True, slots=True)
class LauncherEntry:
    name: str
    url: str


def page(title: str, body: str) -> str:
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width,initial-scale=1'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main>{body}</main></body></html>"
    )


def _hidden(fields: dict[str, str]) -> str:
    return "".join(
        f"<input type='hidden' name='{escape(k)}' value='{escape(v)}'>" for k, v in fields.items()
    )


def login(
    team: str,
    app_name: str | None,
    idps: Sequence[IdpButton],
    flow: str,
    csrf: str,
    error: str = "",
) -> str:
    target = f"Sign in to {escape(app_name)}" if app_name else f"Sign in to {escape(team)}"
    parts = [f"<h1>{target}</h1>"]
    if error:
        parts.append(f"<p class='err'>{escape(error)}</p>")
    if not idps:
        parts.append("<p>No login method is configured for this application.</p>")
    for idp in idps:
        hidden = _hidden({"flow": flow, "csrf": csrf})
        if idp.type == "otp":
            parts.append(
                f"<form method='post' action='/cdn-cgi/access/otp/{escape(idp.id)}'>{hidden}"
                f"<label>Email ({escape(idp.name)})<input type='email' name='email' required "
                "autocomplete='email'></label><button type='submit'>Send me a code</button></form>"
            )
        else:
            parts.append(
                f"<form method='post' action='/cdn-cgi/access/start/{escape(idp.id)}'>{hidden}"
                f"<button type='submit'>Sign in with {escape(idp.name)}</button></form>"
            )
    return page(target, "".join(parts))


def otp_code(idp_id: str, email: str, challenge: str, flow: str, csrf: str, error: str = "") -> str:
    hidden = _hidden({"flow": flow, "csrf": csrf, "challenge": challenge})
    err = f"<p class='err'>{escape(error)}</p>" if error else ""
    return page(
        "Enter your code",
        "<h1>Check your email</h1>"
        f"<p>If {escape(email)} may sign in, a code is on its way to it. "
        "It is valid for 10 minutes.</p>"
        f"{err}<form method='post' action='/cdn-cgi/access/otp/{escape(idp_id)}/verify'>{hidden}"
        "<label>Code<input name='code' inputmode='numeric' autocomplete='one-time-code' "
        "maxlength='12' required></label><button type='submit'>Sign in</button></form>",
    )


def launcher(team: str, email: str, entries: Iterable[LauncherEntry], csrf: str) -> str:
    items = (
        "".join(f"<li><a href='{escape(e.url)}'>{escape(e.name)}</a></li>" for e in entries)
        or "<li class='muted'>No applications yet.</li>"
    )
    return page(
        f"{team} applications",
        f"<h1>Applications</h1><p class='muted'>Signed in as {escape(email)}</p>"
        f"<ul id='apps'>{items}</ul>"
        f"<form method='post' action='/cdn-cgi/access/logout'>{_hidden({'csrf': csrf})}"
        "<button type='submit'>Log out</button></form>",
    )


def logout(csrf: str) -> str:
    hidden = _hidden({"csrf": csrf})
    return page(
        "Log out",
        "<h1>Log out?</h1>"
        f"<form method='post' action='/cdn-cgi/access/logout'>{hidden}"
        "<button type='submit'>Log out</button></form>",
    )


def message(title: str, text: str, link: tuple[str, str] | None = None) -> str:
    more = f"<p><a href='{escape(link[0])}'>{escape(link[1])}</a></p>" if link else ""
    return page(title, f"<h1>{escape(title)}</h1><p>{escape(text)}</p>{more}")
