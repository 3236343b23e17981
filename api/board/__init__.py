"""The old health board's address: the board is now the console's Health page, so `/board` sends people there.

A temporary redirect (307), so that a bookmark keeps working and the address stays free for later use.
"""

from __future__ import annotations

from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse

router = APIRouter()


@router.get("/board", include_in_schema=False)
async def board() -> RedirectResponse:
    return RedirectResponse("/console#/health", status_code=307, headers={"Cache-Control": "no-store"})


def mount_board(app: FastAPI) -> None:
    app.include_router(router)
