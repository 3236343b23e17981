"""The health board: a read-only staff page served as plain static files.

The page holds no data of its own: it signs in (or takes a token from the URL fragment) and calls
the GraphQL API like any staff tool, so what it shows is exactly what the API answers.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).resolve().parent / "static"
HEADERS = {
    # frame-ancestors: no other site may frame the board to trick a signed-in person into clicking on it
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'"
    ),
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
}

router = APIRouter()


@router.get("/board", include_in_schema=False)
async def board() -> FileResponse:
    return FileResponse(STATIC / "index.html", headers=HEADERS)


def mount_board(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/board/assets", StaticFiles(directory=STATIC), name="board-assets")
