"""The operations console: staff pages served as plain static files (no build step), each calling only the public
GraphQL API, so what a page shows is what the API answers and what a role may do is what the API allows.

The page's text comes from the same message catalogs as the server's (`/console/messages/<language>.json`),
with the merchant's timezone, so that every time on a page is on the merchant's clock.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI, HTTPException, Request
from fastapi.responses import FileResponse, JSONResponse
from fastapi.staticfiles import StaticFiles

from domain.i18n import supported
from domain.i18n.catalogs import catalog

STATIC = Path(__file__).resolve().parent / "static"
HEADERS = {
    # frame-ancestors: no other site may frame the console to trick a signed-in person into clicking on it
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
}

router = APIRouter()


@router.get("/console", include_in_schema=False)
async def console() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


@router.get("/console/messages/{language}.json", include_in_schema=False)
async def messages(language: str, request: Request) -> JSONResponse:
    """The catalog of one language for the pages, with the merchant's clock they display times on."""
    chosen = supported(language)
    if chosen is None or chosen != language:
        raise HTTPException(404, f"no catalog for {language!r}; known: zh-CN, en")
    settings = request.app.state.runtime.settings
    body = {"language": chosen, "timezone": settings.merchant_timezone, "messages": catalog(chosen)}
    return JSONResponse(body, headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"})


def mount_console(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/console/assets", StaticFiles(directory=STATIC), name="console-assets")
