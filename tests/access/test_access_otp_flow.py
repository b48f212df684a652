"""One-time PIN by email with a real SMTP sink: delivery, same answer for unknown addresses,
attempt limit and lock-out (each failure asserted at the origin too)."""

from __future__ import annotations

import re

import httpx
from access_stack import Stack

APP = "pay.acme.localhost"


async def _setup(stack: Stack) -> None:
    stack.add_app("pay", APP)
    stack.add_idp(
        "email-pin",
        "otp",
        {
            "smtp_host": "127.0.0.1",
            "smtp_port": stack.smtp_port,  # type: ignore[attr-defined]
            "smtp_security": "none",
            "from": "access@acme.localhost",
        },
    )
    stack.add_policy("pay", "finance", "allow", ["email_domain=example.com"])


def _fields(page: str) -> dict[str, str]:
    return dict(re.findall(r"name='(flow|csrf|challenge)' value='([^']*)'", page))


async def ask_code(browser: httpx.AsyncClient, stack: Stack, email: str) -> tuple[str, str]:
    """Open the app, submit ``email`` in the PIN form; (code page, its form action)."""
    r = await browser.get(stack.url(APP, "/"), follow_redirects=True)
    action = re.search(r"action='(/cdn-cgi/access/otp/[^']+)'", r.text)
    assert action is not None, r.text
    r = await browser.post(
        str(r.url.copy_with(path=action[1], query=None)), data={**_fields(r.text), "email": email}
    )
    assert r.status_code == 200
    assert stack.team_app is not None
    await stack.team_app.mailer.join()
    verify = re.search(r"action='(/cdn-cgi/access/otp/[^']+/verify)'", r.text)
    assert verify is not None
    return r.text, str(r.url.copy_with(path=verify[1], query=None))


async def test_pin_login_end_to_end(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        page, verify = await ask_code(browser, stack, "Carol@Example.com")
        assert "carol@example.com" in page
        (code,) = stack.smtp.codes_for("carol@example.com")
        r = await browser.post(verify, data={**_fields(page), "code": code}, follow_redirects=True)
        assert r.status_code == 200 and r.json()["origin"] == "ok"
        seen = stack.origin.requests[-1]["headers"]
        assert seen["cf-access-authenticated-user-email"] == "carol@example.com"
        # the code is single-use
        r = await browser.post(verify, data={**_fields(page), "code": code})
        assert r.status_code == 401


async def test_same_answer_for_addresses_that_may_not_log_in(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        allowed, _ = await ask_code(browser, stack, "dan@example.com")
        refused, _ = await ask_code(browser, stack, "eve@evil.org")

    def strip(page: str) -> str:
        page = re.sub(r"value='[^']*'", "", page)
        return page.replace("dan@example.com", "X").replace("eve@evil.org", "X")

    assert strip(allowed) == strip(refused)
    assert stack.smtp.codes_for("dan@example.com") and not stack.smtp.codes_for("eve@evil.org")
    assert stack.origin.requests == []


async def test_pin_brute_force_hits_the_attempt_limit_then_a_lockout(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        page, verify = await ask_code(browser, stack, "frank@example.com")
        (code,) = stack.smtp.codes_for("frank@example.com")
        wrong = f"{(int(code) + 1) % 1_000_000:06d}"
        statuses = []
        for _ in range(6):
            r = await browser.post(verify, data={**_fields(page), "code": wrong})
            statuses.append(r.status_code)
        assert statuses[:5] == [401] * 5 and "Too many wrong codes" in r.text
        # the right code no longer works on this challenge
        r = await browser.post(verify, data={**_fields(page), "code": code})
        assert r.status_code == 401 and "Too many" in r.text
        # a second code: five more failures reach the per-address limit
        page2, verify2 = await ask_code(browser, stack, "frank@example.com")
        code2 = stack.smtp.codes_for("frank@example.com")[-1]
        for _ in range(5):
            r = await browser.post(verify2, data={**_fields(page2), "code": wrong})
        await ask_code(browser, stack, "frank@example.com")
        # locked out: no new code is mailed, and even a right code is refused
        assert len(stack.smtp.codes_for("frank@example.com")) == 2
        r = await browser.post(verify2, data={**_fields(page2), "code": code2})
        assert r.status_code == 429 and "Too many wrong codes for this address" in r.text
    assert stack.origin.requests == []


async def test_pin_forms_need_the_csrf_token(stack: Stack) -> None:
    await _setup(stack)
    async with stack.browser() as browser:
        r = await browser.get(stack.url(APP, "/"), follow_redirects=True)
        fields = _fields(r.text)
        action = re.search(r"action='(/cdn-cgi/access/otp/[^']+)'", r.text)
        assert action is not None
        url = str(r.url.copy_with(path=action[1], query=None))
        bad = [
            {"flow": fields["flow"], "email": "a@example.com"},
            {"flow": fields["flow"], "csrf": "x" * 43, "email": "a@example.com"},
        ]
        for data in bad:
            r = await browser.post(url, data=data)
            assert r.status_code == 403
        r = await browser.post(
            url, data={**fields, "email": "a@example.com"}, headers={"Origin": "https://evil.org"}
        )
        assert r.status_code == 403
    async with stack.browser() as other:  # another browser: no CSRF cookie at all
        r = await other.post(url, data={**fields, "email": "a@example.com"})
        assert r.status_code == 403
    assert stack.team_app is not None
    await stack.team_app.mailer.join()
    assert not stack.smtp.messages
