"""Model adapters against real local servers (no network beyond loopback) and bad specs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import GOOD, WRONG, fenced
from greenloop.api import solve
from greenloop.loop.engine import RunStatus
from greenloop.models import ModelError, load_model


class FakeEndpoint(BaseHTTPRequestHandler):
    """An OpenAI- and Anthropic-shaped server that replies from a script and records requests."""

    replies: list[str] = []
    requests: list[dict] = []

    def log_message(self, *args: object) -> None:
        pass

    def _send(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(200, {"data": [{"id": "fake"}]})

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        self.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization"),
                              "key": self.headers.get("x-api-key")})
        text = self.replies.pop(0)
        if self.path.endswith("/chat/completions"):
            self._send(200, {"choices": [{"message": {"content": text}}],
                             "usage": {"prompt_tokens": 11, "completion_tokens": 7}})
        else:
            self._send(200, {"content": [{"type": "text", "text": text}], "usage": {"input_tokens": 5, "output_tokens": 3}})


@pytest.fixture
def endpoint() -> Iterator[str]:
    FakeEndpoint.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeEndpoint)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_openai_compatible_endpoint_drives_a_run_to_green(workspace: Path, endpoint: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    FakeEndpoint.replies = [fenced(WRONG), fenced(GOOD)]
    result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model="openai:fake-coder",
                   base_url=endpoint, db=workspace / "runs.db")
    assert result.status is RunStatus.GREEN and result.model_calls == 2
    assert (result.prompt_tokens, result.completion_tokens) == (22, 14)
    first = FakeEndpoint.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "fake-coder" and first["body"]["messages"][0]["role"] == "system"
    # a stronger model is shown the tests themselves
    assert "def test_basic" in first["body"]["messages"][-1]["content"]


def test_anthropic_endpoint(workspace: Path, endpoint: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "ak-test")
    FakeEndpoint.replies = [fenced(GOOD)]
    result = solve(workspace / "test_slugger.py", workspace / "slugger.py", model="anthropic:fake",
                   base_url=endpoint, db=workspace / "runs.db")
    assert result.status is RunStatus.GREEN
    request = FakeEndpoint.requests[0]
    assert request["path"] == "/v1/messages" and request["key"] == "ak-test"
    assert "system" in request["body"] and all(m["role"] != "system" for m in request["body"]["messages"])


def test_bad_model_specs_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="unknown model spec"):
        load_model("gpt-4")
    with pytest.raises(ModelError, match="needs a model name"):
        load_model("openai:")
    with pytest.raises(ModelError, match="model file not found"):
        load_model(f"local:{tmp_path / 'missing.gguf'}").check()
    bad = tmp_path / "script.json"
    bad.write_text('{"not": "a list"}')
    with pytest.raises(ModelError, match="JSON array of strings"):
        load_model(f"scripted:{bad}")
