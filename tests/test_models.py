"""Model adapters against real local servers (no network beyond loopback) and bad specs."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from conftest import GOOD, WRONG, fenced
from greenloop.cli import main
from greenloop.errors import BadInput
from greenloop.loop.engine import RunStatus
from greenloop.models import MODELS, Capabilities, ModelError, capabilities_of, load_model
from greenloop.models.prices import BUILTIN_PRICES, PRICES_TAKEN, Price, price_for
from greenloop.models.scripted import ScriptedModel
from greenloop.solver import solve


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


def test_builtin_providers_are_registered_like_plugins() -> None:
    assert {"anthropic", "local", "openai", "scripted"} <= set(MODELS.names())
    with pytest.raises(ModelError, match="unknown model spec 'gpt-4'.*openai:"):
        load_model("gpt-4")


def test_a_provider_added_to_the_registry_is_loaded_by_its_spec(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[tuple[str, str | None]] = []

    def echo(argument: str, base_url: str | None) -> ScriptedModel:
        seen.append((argument, base_url))
        return ScriptedModel([argument], max_parallel=2)

    monkeypatch.setitem(MODELS._factories, "echo", echo)
    model = load_model("echo:hello:world", base_url="http://127.0.0.1:1")
    assert seen == [("hello:world", "http://127.0.0.1:1")]
    assert capabilities_of(model).max_parallel == 2


def test_capabilities_are_declared_or_one_call_at_a_time() -> None:
    class Legacy:
        prompt_style = "examples"

    assert capabilities_of(Legacy()) == Capabilities(max_parallel=1, prompt_style="examples")
    assert capabilities_of(ScriptedModel(["x"])).max_parallel == 1
    remote = load_model("openai:some-model", base_url="http://127.0.0.1:1")
    try:
        assert capabilities_of(remote).max_parallel == 4 and remote.prompt_style == "tests"
    finally:
        remote.close()  # type: ignore[attr-defined]
    with pytest.raises(ValueError, match="at least 1"):
        Capabilities(max_parallel=0)


def test_user_prices_extend_and_override_the_table(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text('["openai:gpt-4o"]\ninput = 1.0\noutput = 2.0\n\n["openai:my-model"]\ninput = 0.5\noutput = 1.5\n')
    monkeypatch.setenv("GREENLOOP_PRICES", str(prices))
    assert price_for("openai:gpt-4o") == Price(1.0, 2.0)
    assert price_for("openai:my-model-v2") == Price(0.5, 1.5)
    assert price_for("openai:gpt-4o-mini") == BUILTIN_PRICES["openai:gpt-4o-mini"]
    assert PRICES_TAKEN.count("-") == 2


@pytest.mark.parametrize("text, problem", [
    ('["openai:x"]\ninput = 1.0\n', "needs `input` and `output`"),
    ('["openai:x"]\ninput = 1.0\noutput = -2\n', "output must be a non-negative number"),
    ('["openai:x"]\ninput = 1\noutput = 2\ncache = 1\n', "unknown keys \\['cache'\\]"),
    ("not toml [", "cannot read the price file"),
])
def test_a_bad_price_file_is_one_clear_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, text: str,
                                            problem: str) -> None:
    prices = tmp_path / "prices.toml"
    prices.write_text(text)
    monkeypatch.setenv("GREENLOOP_PRICES", str(prices))
    with pytest.raises(BadInput, match=problem) as error:
        price_for("openai:x")
    assert "\n" not in str(error.value)


def test_cli_rejects_bad_parallel_and_cost(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for option, value, message in (("--parallel", "0", "--parallel must be at least 1"),
                                   ("--max-cost", "-1", "--max-cost must be a positive number")):
        code = main(["solve", "--tests", str(workspace / "test_slugger.py"), "--target", str(workspace / "slugger.py"),
                     "--model", "scripted:/nonexistent.json", "--db", str(workspace / "runs.db"), option, value])
        assert code == 2
        assert message in capsys.readouterr().err
