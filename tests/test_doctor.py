"""`greenloop doctor`: real probes (bubblewrap, a candidate in the real sandbox, a loopback endpoint, the store)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from greenloop.store import Store

SECRET = "sk-doctor-secret-0123456789"


def doctor(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "GREENLOOP_MODEL")}
    clean["XDG_CONFIG_HOME"] = str(cwd / "xdg")
    return subprocess.run([sys.executable, "-m", "greenloop", "doctor", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, check=False, env={**clean, **(env or {})}, stdin=subprocess.DEVNULL)


def checks(proc: subprocess.CompletedProcess[str]) -> dict[str, dict[str, str]]:
    return {c["name"]: c for c in json.loads(proc.stdout)}


class _Models(BaseHTTPRequestHandler):
    status = 200
    seen: list[str] = []

    def do_GET(self) -> None:
        type(self).seen.append(self.headers.get("Authorization", ""))
        body = b'{"data": [{"id": "m"}]}'
        self.send_response(type(self).status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def endpoint() -> Iterator[tuple[str, type[_Models]]]:
    handler = type("Models", (_Models,), {"status": 200, "seen": []})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", handler
    finally:
        server.shutdown()
        server.server_close()


def test_doctor_probes_the_sandbox_from_inside_and_reads_the_store(tmp_path: Path) -> None:
    proc = doctor("--json", "--db", "runs.db", "--model", "scripted:x.json", cwd=tmp_path)
    found = checks(proc)
    assert found["bubblewrap"]["status"] == "ok", found["bubblewrap"]
    sandbox = {name: c for name, c in found.items() if name.startswith("sandbox: ")}
    assert set(sandbox) == {"sandbox: no network", "sandbox: no inherited environment", "sandbox: home directory hidden",
                            "sandbox: unprivileged uid", "sandbox: seccomp filter", "sandbox: no_new_privs"}
    assert all(c["status"] == "ok" for c in sandbox.values()), sandbox
    assert "does not exist yet" in found["run store"]["detail"] and not (tmp_path / "runs.db").exists()
    assert proc.returncode == 0, proc.stdout
    store = Store(tmp_path / "runs.db")
    store.start_run(kind="solve", tests_path="t", target="m", spec="", model="m", strategy="s", budget={})
    store.close()
    assert "1 runs" in checks(doctor("--json", "--db", "runs.db", "--model", "scripted:x.json", cwd=tmp_path))[
        "run store"]["detail"]


def test_doctor_checks_the_endpoint_and_never_prints_the_key(tmp_path: Path, endpoint) -> None:
    url, handler = endpoint
    env = {"OPENAI_API_KEY": SECRET}
    proc = doctor("--model", "openai:m", "--base-url", url, "--db", "runs.db", cwd=tmp_path, env=env)
    assert SECRET not in proc.stdout + proc.stderr
    assert handler.seen == [f"Bearer {SECRET}"]  # sent only to the endpoint the user configured
    found = checks(doctor("--json", "--model", "openai:m", "--base-url", url, "--db", "runs.db", cwd=tmp_path, env=env))
    assert found["model key"]["status"] == "ok" and str(len(SECRET)) in found["model key"]["detail"]
    assert found["model endpoint"]["status"] == "ok" and "HTTP 200" in found["model endpoint"]["detail"]
    handler.status = 401
    refused = doctor("--model", "openai:m", "--base-url", url, "--db", "runs.db", cwd=tmp_path, env=env)
    assert refused.returncode == 1 and "refused the key" in refused.stdout and SECRET not in refused.stdout


def test_doctor_names_each_problem_with_its_fix(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text('[tool.greenloop]\nmodle = "local"\n')
    (tmp_path / "garbage.db").write_text("not sqlite\n" * 200)
    proc = doctor("--model", "openai:m", "--base-url", "http://127.0.0.1:9/v1", "--db", "garbage.db", cwd=tmp_path)
    assert proc.returncode == 1
    lines = proc.stdout.splitlines()

    def problem(name: str, needle: str) -> None:
        at = next(i for i, line in enumerate(lines) if line.startswith("FAIL") and f"  {name}  " in line)
        assert needle in lines[at], lines[at]
        assert lines[at + 1].strip().startswith("fix: "), lines[at + 1]

    problem("config", "'tool.greenloop.modle'")
    problem("model endpoint", "cannot reach http://127.0.0.1:9/v1")
    assert any(line.startswith("ok") and "a local server needs none" in line for line in lines)
    problem("run store", "garbage.db")
    assert "3 problems found" in proc.stderr
