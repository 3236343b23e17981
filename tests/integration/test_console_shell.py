"""The console's shell in a real browser: sign-in, the menu a role gets, the language, keyboard focus."""

from __future__ import annotations

from pathlib import Path

import httpx

from api.app import create_app
from domain.i18n.catalogs import catalog
from runtime.process import Runtime
from tests.integration.console_fixtures import (
    PASSWORD,
    console,
    missing_keys,
    shot,
    staff_tokens,
    tab_through,
)
from tests.integration.push_client import serving


async def test_sign_in_language_and_focus(rt: Runtime, chromium: str, tmp_path: Path) -> None:
    await staff_tokens(rt, ("cs",))
    async with console(rt, chromium) as browser:
        page = await browser.open(None)
        await page.wait_for_selector("#login:not([hidden])")
        assert await page.inner_text("#login-title") == catalog("zh-CN")["Staff sign-in"]
        await page.fill("#email", "cs-console@shop.example")
        await page.fill("#password", "wrong password")
        await page.press("#password", "Enter")
        await page.wait_for_selector("#error:not([hidden])")
        assert await page.is_visible("#login")

        await page.fill("#password", PASSWORD)
        await page.press("#password", "Enter")
        await page.wait_for_selector("body[data-loaded=true]")
        assert await page.is_hidden("#login")
        assert catalog("zh-CN")["customer service"] in await page.inner_text("#who")
        await shot(page, tmp_path, "shell-zh-CN")

        focus = await tab_through(page)
        assert {f["tag"] for f in focus} >= {"a", "select", "button"}, focus
        assert all(f["visible"] == "true" for f in focus), focus

        await page.select_option("#language", "en")
        await page.wait_for_selector("html[lang=en]")
        await page.wait_for_selector("#who:has-text('customer service')")  # the account re-read in English
        await page.wait_for_selector("body[data-loaded=true]")
        assert await page.inner_text("#sign-out") == "Sign out"
        assert "customer service" in await page.inner_text("#who")
        await shot(page, tmp_path, "shell-en")
        assert await missing_keys(page) == []

        # The account keeps its choice: a new tab asking for Chinese still speaks English once signed in.
        token = await page.evaluate("sessionStorage.getItem('orderhub.staffToken')")
        again = await browser.open(token, language="zh-CN")
        assert await again.inner_text("#sign-out") == "Sign out"
        assert await missing_keys(again) == []


async def test_catalog_endpoint_and_headers(rt: Runtime) -> None:
    async with serving(create_app(runtime=rt)) as ws_url:
        base = ws_url.replace("ws://", "http://").removesuffix("/graphql")
        async with httpx.AsyncClient(base_url=base) as client:
            page = await client.get("/console")
            assert page.status_code == 200
            policy = page.headers["content-security-policy"]
            assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
            zh = (await client.get("/console/messages/zh-CN.json")).json()
            assert zh["language"] == "zh-CN" and zh["timezone"] == rt.settings.merchant_timezone
            assert zh["messages"]["Sign out"] == catalog("zh-CN")["Sign out"] != "Sign out"
            assert (await client.get("/console/messages/fr.json")).status_code == 404
            assert (await client.get("/console/assets/console.js")).status_code == 200
