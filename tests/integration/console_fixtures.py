"""The console in a real headless Chromium against a real server: sign a role in, open a page, check the page
asked for no sentence the catalogs lack, raised no script error, and shows focus on every control it has."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

from playwright.async_api import Browser, Page, async_playwright

from api.app import create_app
from api.auth.tokens import issue_staff_token
from domain.access.service import create_staff
from runtime.process import Runtime
from tests.integration.push_client import serving

PASSWORD = "correct horse battery"
ROLES = ("admin", "ops", "cs", "finance")


async def staff_tokens(rt: Runtime, roles: tuple[str, ...] = ROLES) -> dict[str, str]:
    """One staff account per role (`<role>-console@shop.example`), and a bearer token for each."""
    secret = rt.settings.secret("token_secret")
    tokens = {}
    async with rt.core.sessions() as session, session.begin():
        for role in roles:
            user = await create_staff(session, f"{role}-console@shop.example", PASSWORD, [role])
            assert user.id is not None
            tokens[role] = issue_staff_token(secret, user.id, user.email, user.roles, 30).token
    return tokens


@dataclass
class Console:
    browser: Browser
    base: str
    errors: list[str]

    async def open(self, token: str | None, path: str = "", language: str = "zh-CN") -> Page:
        """A new tab signed in with the token (kept in the tab's sessionStorage, never in the address), at
        `#/<path>`, once the page says it has loaded."""
        page = await self.browser.new_page(viewport={"width": 1360, "height": 900})
        page.on("console", lambda m: self.errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: self.errors.append(str(e)))
        if token is not None:
            await page.add_init_script(f"sessionStorage.setItem('orderhub.staffToken', {token!r})")
        await page.goto(f"{self.base}/console?lang={language}#/{path}")
        if token is not None:
            await page.wait_for_selector("body[data-loaded=true]")
        return page


@asynccontextmanager
async def console(rt: Runtime, chromium: str) -> AsyncIterator[Console]:
    async with serving(create_app(runtime=rt)) as ws_url, async_playwright() as playwright:
        base = ws_url.replace("ws://", "http://").removesuffix("/graphql")
        browser = await playwright.chromium.launch(executable_path=chromium, headless=True)
        opened = Console(browser, base, [])
        try:
            yield opened
        finally:
            await browser.close()
        assert opened.errors == [], opened.errors


async def loaded(page: Page) -> None:
    """Waits for the page the last action opened (the router marks the body when it is drawn)."""
    await page.wait_for_selector("body[data-loaded=true]")


async def missing_keys(page: Page) -> list[str]:
    keys: list[str] = await page.evaluate("window.orderhubMissing || []")
    return keys


async def shot(page: Page, out: Path, name: str) -> Path:
    """A full-page screenshot for review, under the test's output folder."""
    path = out / "screenshots" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    await page.screenshot(path=str(path), full_page=True)
    return path


async def tab_through(page: Page, presses: int = 40) -> list[dict[str, str]]:
    """Presses Tab up to `presses` times from the top; for each control reached, what it is and whether its focus
    shows (an outline or a box shadow drawn by :focus-visible)."""
    await page.evaluate("document.activeElement && document.activeElement.blur()")
    reached: list[dict[str, str]] = []
    for _ in range(presses):
        await page.keyboard.press("Tab")
        info = await page.evaluate(
            """() => { const e = document.activeElement; if (!e || e === document.body) return null;
                const s = getComputedStyle(e);
                return {tag: e.tagName.toLowerCase(), text: (e.innerText || e.value || e.getAttribute('aria-label')
                        || '').trim().slice(0, 40), outline: s.outlineStyle + ' ' + s.outlineWidth,
                        shadow: s.boxShadow, visible: String(s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) > 0
                        || s.boxShadow !== 'none')}; }"""
        )
        if info is None:
            continue
        if reached and info == reached[0]:
            break
        reached.append(info)
    return reached
