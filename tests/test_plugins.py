"""Third-party extensions: a package installed by pip, adding a strategy and a model provider
through entry points, used from the command line without greenloop knowing of it."""

from __future__ import annotations

import base64
import hashlib
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import GOOD

PLUGIN = '''\
"""A tiny greenloop plugin: a model that always answers the same module, and a strategy."""

from greenloop.loop.prompts import first_messages
from greenloop.loop.strategies import Proposal
from greenloop.models import Capabilities, Completion, Usage

REPLY = {reply!r}


class FixedModel:
    capabilities = Capabilities(context=2048, max_parallel=1, prompt_style="tests")
    prompt_style = "tests"

    def __init__(self, name):
        self.name = "fixed:" + name

    def check(self):
        pass

    def complete(self, messages, *, temperature, max_tokens, seed, stop=()):
        return Completion("```python\\n" + REPLY + "```\\n", Usage(prompt_tokens=1, completion_tokens=1))


def fixed_model(argument, base_url):
    return FixedModel(argument)


class Twice:
    """Asks `tries` times, then stops."""

    name = "twice"

    def __init__(self, tries: int = 2):
        self.tries = tries

    def propose(self, problem, style, history):
        if len(history) >= self.tries:
            return []
        return [Proposal(problem.first_messages(style), 0.5)]
'''


def _wheel(directory: Path) -> Path:
    """Build the plugin's wheel by hand (the test runs offline: no build backend to download)."""
    name, version = "greenloop_testplugin", "0.1"
    info = f"{name}-{version}.dist-info"
    files = {
        "glplugin.py": PLUGIN.format(reply=GOOD),
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: tests\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{info}/entry_points.txt": "[greenloop.models]\nfixed = glplugin:fixed_model\n\n"
                                    "[greenloop.strategies]\ntwice = glplugin:Twice\n",
    }
    record = []
    for path, text in files.items():
        data = text.encode()
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    files[f"{info}/RECORD"] = "\n".join(record + [f"{info}/RECORD,,"]) + "\n"
    wheel = directory / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w") as archive:
        for path, text in files.items():
            archive.writestr(path, text)
    return wheel


@pytest.fixture(scope="module")
def plugin_site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The plugin installed by pip into a directory of its own (kept off the shared environment)."""
    root = tmp_path_factory.mktemp("plugin")
    site = root / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-index",
                    "--disable-pip-version-check", "--target", str(site), str(_wheel(root))],
                   check=True, capture_output=True)
    return site


def _greenloop(site: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(site)}
    return subprocess.run([sys.executable, "-m", "greenloop", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=240, stdin=subprocess.DEVNULL)


def test_plugin_model_and_strategy_from_the_cli(plugin_site: Path, workspace: Path) -> None:
    proc = _greenloop(plugin_site, workspace, "solve", "--tests", "test_slugger.py", "--target", "slugger.py",
                      "--model", "fixed:v1", "--strategy", "twice", "--set", "tries=3", "--db", "runs.db", "--json")
    assert proc.returncode == 0, proc.stderr
    assert (workspace / "slugger.py").read_text() == GOOD
    assert '"status": "green"' in proc.stdout


def test_plugin_parameters_are_checked(plugin_site: Path, workspace: Path) -> None:
    proc = _greenloop(plugin_site, workspace, "solve", "--tests", "test_slugger.py", "--target", "slugger.py",
                      "--model", "fixed:v1", "--strategy", "twice", "--set", "tries=many", "--db", "runs.db")
    assert proc.returncode == 2
    assert proc.stderr.strip() == "greenloop: strategy 'twice' parameter tries must be int, not 'many'"
    assert not (workspace / "slugger.py").exists()


def test_without_the_plugin_its_names_are_unknown(workspace: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "greenloop", "solve", "--tests", "test_slugger.py", "--target",
                           "slugger.py", "--model", "fixed:v1", "--db", "runs.db"], cwd=workspace,
                          capture_output=True, text=True, timeout=240, stdin=subprocess.DEVNULL)
    assert proc.returncode == 2 and "unknown model spec 'fixed:v1'" in proc.stderr
