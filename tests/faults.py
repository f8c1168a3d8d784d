"""A fault-injecting OpenAI-shaped HTTP server for tests: a real server on 127.0.0.1 (stdlib
http.server in a thread) that answers each POST by the next scripted behaviour, and records
every request it was sent.

Behaviours: `ok` (a reply), `429` (with Retry-After: RETRY_AFTER), `500`, `hang` (answers nothing
until the client gives up), `reset` (the connection is reset), `badjson` (200 with a body that
is not JSON), `400` (a client error, not retried), and `pass` (forward to `upstream`, a real
model server). When the script runs out, every further request gets `default`.
"""

from __future__ import annotations

import json
import socket
import struct
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx


@dataclass
class Faults:
    script: list[str] = field(default_factory=list)
    default: str = "ok"
    reply: str = "```python\ndef f():\n    return 1\n```\n"
    replies: list[str] = field(default_factory=list)  # taken in turn by `ok` answers before `reply`
    usage: dict[str, Any] = field(default_factory=lambda: {"prompt_tokens": 100, "completion_tokens": 20})
    retry_after: str = "0.2"
    hang_seconds: float = 3.0
    upstream: str = ""
    seen: list[tuple[float, str, dict[str, Any]]] = field(default_factory=list)  # (time, behaviour, body)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def next(self, body: dict[str, Any]) -> str:
        with self.lock:
            behaviour = self.script.pop(0) if self.script else self.default
            self.seen.append((time.monotonic(), behaviour, body))
            return behaviour

    def count(self, behaviour: str) -> int:
        with self.lock:
            return sum(1 for _, b, _ in self.seen if b == behaviour)


def _handler(faults: Faults) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def _send(self, status: int, data: bytes, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self) -> None:
            self._send(200, json.dumps({"data": [{"id": "faulty"}]}).encode())

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers["Content-Length"]))
            body = json.loads(raw)
            behaviour = faults.next(body)
            if behaviour == "ok":
                with faults.lock:
                    text = faults.replies.pop(0) if faults.replies else faults.reply
                if self.path.endswith("/messages"):  # Anthropic's shape
                    answer = {"content": [{"type": "text", "text": text}], "usage": faults.usage}
                else:
                    answer = {"choices": [{"message": {"content": text}}], "usage": faults.usage}
                self._send(200, json.dumps(answer).encode())
            elif behaviour == "429":
                self._send(429, b'{"error": "rate limited"}', {"Retry-After": faults.retry_after})
            elif behaviour in ("500", "400"):
                self._send(int(behaviour), b'{"error": "injected"}')
            elif behaviour == "badjson":
                self._send(200, b"<html>502 Bad Gateway</html>")
            elif behaviour == "hang":
                time.sleep(faults.hang_seconds)
                self.close_connection = True
            elif behaviour == "reset":
                # SO_LINGER with a zero timeout: close() sends RST instead of FIN.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                self.close_connection = True
            elif behaviour == "pass":
                answer = httpx.post(f"{faults.upstream}{self.path.removeprefix('/v1')}", content=raw,
                                    headers={"Content-Type": "application/json"}, timeout=120)
                self._send(answer.status_code, answer.content)
            else:
                raise ValueError(f"unknown behaviour {behaviour!r}")

    return Handler


@contextmanager
def fault_server(faults: Faults) -> Iterator[str]:
    """Serve `faults` on a free port of 127.0.0.1; yields the base URL (`http://127.0.0.1:PORT/v1`)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(faults))
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
