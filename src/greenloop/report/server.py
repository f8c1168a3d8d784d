"""The live view: a read-only web page over the run store, served on 127.0.0.1 while runs are in progress.

Pages poll small JSON endpoints once a second (see docs/decisions/0007-report.md for why polling). Every
request opens the store read-only, so the server cannot change a run and a run in progress is never blocked.
"""

from __future__ import annotations

import errno
import json
import sys
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from greenloop.errors import BadInput
from greenloop.report import plots, render
from greenloop.report.data import load_benches, load_run
from greenloop.store import Store, StoreError, default_path

HOST = "127.0.0.1"


class PortInUse(BadInput):
    pass


class _Handler(BaseHTTPRequestHandler):
    server: LiveServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        pass  # the terminal stays quiet; the page is the output

    def _send(self, status: int, body: bytes, content_type: str, cache: str = "no-store") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", cache)
        self.send_header("X-Content-Type-Options", "nosniff")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _html(self, text: str, status: int = HTTPStatus.OK) -> None:
        self._send(status, text.encode(), "text/html; charset=utf-8")

    def _json(self, value: Any) -> None:
        self._send(HTTPStatus.OK, json.dumps(value).encode(), "application/json")

    def _not_found(self, message: str) -> None:
        self._send(HTTPStatus.NOT_FOUND, message.encode(), "text/plain; charset=utf-8")

    def do_HEAD(self) -> None:
        self.do_GET()

    def do_GET(self) -> None:
        # Only this machine's own pages: a foreign Host header means DNS rebinding from some web page.
        host = (self.headers.get("Host") or "").rsplit(":", 1)[0]
        if host not in (HOST, "localhost"):
            self._send(HTTPStatus.FORBIDDEN, b"forbidden", "text/plain")
            return
        url = urlsplit(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        query = parse_qs(url.query)
        if parts == ["plotly.js"]:
            self._send(HTTPStatus.OK, render.plotly_js().encode(), "text/javascript", cache="max-age=86400")
            return
        try:
            store = Store(self.server.db_path, readonly=True)
        except StoreError as exc:
            self._send(HTTPStatus.SERVICE_UNAVAILABLE, str(exc).encode(), "text/plain; charset=utf-8")
            return
        try:
            self._route(store, parts, query)
        except StoreError as exc:
            self._not_found(str(exc))
        finally:
            store.close()

    def _route(self, store: Store, parts: list[str], query: dict[str, list[str]]) -> None:
        match parts:
            case []:
                self._html(render.index_page(store))
            case ["api", "index"]:
                self._json({"body": render.index_body(store)})
            case ["run", ref]:
                self._html(render.run_page(load_run(store, ref), live=True))
            case ["api", "run", run_id]:
                after = int((query.get("after") or ["0"])[0] or 0)
                self._json(_run_state(store, run_id, after))
            case ["bench", refs]:
                benches = load_benches(store, refs.split(","))
                self._html(render.bench_page(store, benches, ",".join(b.bench.id for b in benches), live=True))
            case ["api", "bench", refs]:
                body, figures = render.bench_body(store, load_benches(store, refs.split(",")), live=True)
                self._json({"body": body, "figures": figures})
            case _:
                self._not_found("no such page; start at /")


def _run_state(store: Store, run_id: str, after: int) -> dict[str, Any]:
    """What a live run page needs after attempt `after`: the new rows, the summary, and (if anything is new)
    the figures redrawn over every attempt."""
    view = load_run(store, run_id)
    new = [a for a in view.attempts if a.row.n > after]
    state: dict[str, Any] = {"rows": render.attempt_rows(new), "summary": render.run_summary(view),
                             "cursor": view.attempts[-1].row.n if view.attempts else 0, "figures": {}}
    if new:
        state["figures"] = plots.run_figures(view)
    return state


class LiveServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, db_path: Path, port: int) -> None:
        self.db_path = db_path
        try:
            super().__init__((HOST, port), _Handler)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise PortInUse(f"port {port} on {HOST} is in use; choose another with --port (0 picks a free one)"
                                ) from None
            raise BadInput(f"cannot listen on {HOST}:{port}: {exc.strerror or exc}") from None

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.server_address[1]}/"


def serve(db: Path | None, port: int) -> int:
    """Serve until Ctrl-C. The store is created if it does not exist yet, so the page can wait for a first run."""
    path = db or default_path()
    Store(path).close()  # create and migrate once; every request then reads only
    server = LiveServer(path, port)
    print(f"live view of {path}: {server.url} (Ctrl-C to stop)", flush=True)
    try:
        server.serve_forever(poll_interval=0.2)
    except KeyboardInterrupt:
        print("stopped", file=sys.stderr)
    finally:
        server.server_close()
    return 0


__all__ = ["LiveServer", "PortInUse", "serve"]
