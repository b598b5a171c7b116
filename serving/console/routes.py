"""The console's pages and assets on the Ingress: /ui (playground), /ui/sessions (a
conversation: start, like / dislike, message, history), /ui/experiments/{id}, /ui/static/{file}.

The files ship in the package (serving/console/static) and are read once when the API
is built; a request only looks one up. The pages are static: nothing of the server's
state or config is rendered into them (the page asks /ui/config.json and the API), so
no secret can reach a page, and the strict Content-Security-Policy below allows only
the console's own scripts, styles and same-origin API calls.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import Response

from serving.errors import NotFound

STATIC = Path(__file__).parent / "static"
PAGES = {"playground": "playground.html", "experiment": "experiment.html", "session": "session.html"}
TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
         ".css": "text/css; charset=utf-8", ".svg": "image/svg+xml", ".png": "image/png", ".txt": "text/plain; charset=utf-8"}

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def load_assets(directory: Path = STATIC) -> dict[str, tuple[bytes, str]]:
    """Every shipped file by name (flat directory), with its content type."""
    out = {}
    for f in sorted(directory.iterdir()):
        if f.is_file() and f.suffix in TYPES:
            out[f.name] = (f.read_bytes(), TYPES[f.suffix])
    missing = [p for p in PAGES.values() if p not in out]
    if missing:
        raise FileNotFoundError(f"console files missing from {directory}: {missing}; reinstall the package")
    return out


def _file(assets: dict[str, tuple[bytes, str]], name: str) -> Response:
    body, ctype = assets[name]
    return Response(body, media_type=ctype, headers=SECURITY_HEADERS)


def add_console_routes(api: FastAPI) -> None:
    assets = load_assets()

    @api.get("/ui", include_in_schema=False)
    async def playground() -> Response:
        return _file(assets, PAGES["playground"])

    @api.get("/ui/sessions", include_in_schema=False)
    async def session_page() -> Response:
        return _file(assets, PAGES["session"])  # ?id=... resumes one: the page asks the API

    @api.get("/ui/experiments/{experiment_id}", include_in_schema=False)
    async def experiment_page(experiment_id: str) -> Response:
        return _file(assets, PAGES["experiment"])  # the page reads the id from its own URL

    @api.get("/ui/static/{name}", include_in_schema=False)
    async def static(name: str) -> Response:
        if name not in assets:
            raise NotFound(f"no console file '{name}'; the console's files are listed in serving/console/static")
        return _file(assets, name)
