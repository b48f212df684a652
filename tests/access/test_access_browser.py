"""Headless Chromium through an Access login: app URL -> login page -> the OIDC provider ->
the app; the App Launcher; log out -> back to login. Screenshots are kept as artefacts
(in $RAMPARTS_TEST_ARTIFACTS when set, else in the test's tmp dir)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest
from access_stack import TEAM, Stack

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
APP = "wiki.acme.localhost"


@pytest.mark.skipif(CHROMIUM is None, reason="Debian chromium is not installed")
async def test_browser_login_launcher_logout(stack: Stack, tmp_path: Path) -> None:
    from playwright.async_api import async_playwright

    artifacts = Path(os.environ.get("RAMPARTS_TEST_ARTIFACTS", tmp_path)) / "access-browser"
    artifacts.mkdir(parents=True, exist_ok=True)
    stack.add_app("wiki", APP)
    stack.add_idp("mock", "oidc", {"issuer": stack.oidc_issuer, "client_id": "ramparts"}, "s")
    stack.add_policy("wiki", "people", "allow", ["email_domain=example.com"])
    await stack.set_oidc_user("alice", {"email": "alice@example.com", "name": "Alice"})
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--host-resolver-rules=MAP *.localhost 127.0.0.1", "--no-sandbox"],
        )
        context = await browser.new_context(ignore_https_errors=True)
        page = await context.new_page()
        await page.goto(stack.url(APP, "/docs"))
        assert page.url.startswith(stack.url(TEAM, "/cdn-cgi/access/login/"))
        assert await page.title() == "Sign in to wiki"
        await page.screenshot(path=str(artifacts / "1-login.png"))
        await page.click("text=Sign in with mock")
        await page.wait_for_url(f"{stack.oidc_issuer}/**")
        await page.fill("input[name=sub]", "alice")
        await page.screenshot(path=str(artifacts / "2-provider.png"))
        await page.click("button:has-text('Authorize')")
        await page.wait_for_url(stack.url(APP, "/docs"))
        assert '"origin": "ok"' in await page.content()
        await page.screenshot(path=str(artifacts / "3-app.png"))
        seen = stack.origin.requests[-1]["headers"]
        assert seen["cf-access-authenticated-user-email"] == "alice@example.com"
        await page.goto(stack.url(TEAM, "/"))
        assert await page.inner_text("#apps") == "wiki"
        await page.screenshot(path=str(artifacts / "4-launcher.png"))
        await page.click("button:has-text('Log out')")
        await page.wait_for_url(stack.url(TEAM, "/cdn-cgi/access/login"))
        assert "Sign in to acme" in await page.content()
        await page.screenshot(path=str(artifacts / "5-logged-out.png"))
        await page.goto(stack.url(TEAM, "/"))
        assert page.url.startswith(stack.url(TEAM, "/cdn-cgi/access/login"))
        await browser.close()
    assert sorted(p.name for p in artifacts.iterdir()) == [
        "1-login.png",
        "2-provider.png",
        "3-app.png",
        "4-launcher.png",
        "5-logged-out.png",
    ]
