"""ASGI entry point for uvicorn: `uvicorn api.asgi:app`. Each process of `serve --workers N` starts here."""

from api.app import create_app
from domain.settings import get_settings
from runtime.logs import configure_logging

configure_logging(get_settings())
app = create_app()
