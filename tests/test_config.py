"""Config files: [tool.greenloop] in pyproject.toml and the user's config.toml, under the environment and flags."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import GOOD, WRONG, fenced
from greenloop import config
from greenloop.errors import BadInput
from greenloop.models import prices


def greenloop(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "greenloop", *args], cwd=cwd, capture_output=True, text=True,
                          timeout=120, check=False, env=env, stdin=subprocess.DEVNULL)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The process environment with a private user config directory and none of the settings' variables."""
    clean = {k: v for k, v in os.environ.items() if k not in {name for _, name, _ in config.KEYS.values()}}
    clean["XDG_CONFIG_HOME"] = str(tmp_path / "xdg")
    return clean


def scripted(folder: Path, name: str, *replies: str) -> str:
    path = folder / f"{name}.json"
    path.write_text(json.dumps(list(replies)))
    return f"scripted:{path}"


def model_used(workspace: Path, env: dict[str, str], *flags: str) -> str:
    proc = greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db", "--json",
                     *flags, cwd=workspace, env=env)
    assert proc.returncode == 0, proc.stderr
    run = json.loads(greenloop("show", json.loads(proc.stdout)["run_id"], "--db", "runs.db", "--json",
                               cwd=workspace, env=env).stdout)["run"]
    return str(run["model"])


def one_line(proc: subprocess.CompletedProcess[str], *needles: str) -> None:
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("greenloop: "), proc.stderr
    assert all(n in lines[0] for n in needles), proc.stderr


def test_precedence_is_flag_then_environment_then_project_then_user(workspace: Path, env: dict[str, str]) -> None:
    models = {name: scripted(workspace, name, fenced(GOOD)) for name in ("user", "project", "env", "flag")}
    user_file = Path(env["XDG_CONFIG_HOME"]) / "greenloop" / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_text(f'model = "{models["user"]}"\n')
    assert model_used(workspace, env) == models["user"]
    (workspace / "pyproject.toml").write_text(f'[project]\nname = "x"\n\n[tool.greenloop]\nmodel = "{models["project"]}"\n')
    (workspace / "sub" / "deeper").mkdir(parents=True)
    (workspace / "sub" / "deeper" / "test_slugger.py").write_text((workspace / "test_slugger.py").read_text())
    assert model_used(workspace / "sub" / "deeper", env) == models["project"]  # found from the cwd upward
    assert model_used(workspace, {**env, "GREENLOOP_MODEL": models["env"]}) == models["env"]
    assert model_used(workspace, {**env, "GREENLOOP_MODEL": models["env"]}, "--model", models["flag"]) == models["flag"]


def test_budget_and_strategy_parameters_come_from_the_project(workspace: Path, env: dict[str, str]) -> None:
    model = scripted(workspace, "wrong", *[fenced(WRONG)] * 5)
    (workspace / "pyproject.toml").write_text(f'[tool.greenloop]\nmodel = "{model}"\nmax_calls = 2\n')
    proc = greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db", "--json",
                     cwd=workspace, env=env)
    assert proc.returncode == 1 and json.loads(proc.stdout)["attempts"] == 2
    flagged = greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db", "--json",
                        "--max-calls", "3", cwd=workspace, env=env)
    assert json.loads(flagged.stdout)["attempts"] == 3
    # The chosen strategy's table reaches the strategy: a parameter it does not have is refused by it.
    (workspace / "pyproject.toml").write_text(f'[tool.greenloop]\nmodel = "{model}"\nstrategy = "sample"\n\n'
                                              "[tool.greenloop.strategies.sample]\nnot_a_parameter = 1\n")
    one_line(greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                       cwd=workspace, env=env), "not_a_parameter", "sample")


def test_bad_config_is_one_line_naming_the_file_and_the_key(workspace: Path, env: dict[str, str]) -> None:
    def solve() -> subprocess.CompletedProcess[str]:
        return greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                         "--model", "scripted:none.json", cwd=workspace, env=env)

    project = workspace / "pyproject.toml"
    project.write_text('[tool.greenloop]\nmodle = "local"\n')
    one_line(solve(), str(project), "'tool.greenloop.modle'", "known keys")
    project.write_text('[tool.greenloop]\nparallel = "four"\n')
    one_line(solve(), str(project), "'tool.greenloop.parallel'", "integer")
    project.write_text('[tool.greenloop]\nstrategy = "bogus"\n')
    one_line(solve(), str(project), "'strategy'", "bogus")
    project.write_text('[tool.greenloop.prices."openai:x"]\ninput = 1\n')
    one_line(solve(), str(project), "prices", "output")
    project.write_text('[tool.greenloop\nmodel = "local"\n')
    one_line(solve(), str(project), "not valid TOML")
    project.unlink()
    user_file = Path(env["XDG_CONFIG_HOME"]) / "greenloop" / "config.toml"
    user_file.parent.mkdir(parents=True)
    user_file.write_bytes(b"model = \"\xff\xfe\"\n")
    one_line(solve(), f"cannot read the config file {user_file}")
    user_file.write_text("max_seconds = -1\n")
    one_line(solve(), str(user_file), "'max_seconds'", "positive")
    user_file.unlink()
    one_line(greenloop("solve", "--tests", "test_slugger.py", "--target", "slugger.py", "--db", "runs.db",
                       cwd=workspace, env={**env, "GREENLOOP_MAX_CALLS": "lots"}), "GREENLOOP_MAX_CALLS")
    assert not (workspace / "slugger.py").exists()


def test_load_merges_layers_and_prices_reach_the_price_table(tmp_path: Path) -> None:
    (tmp_path / "xdg" / "greenloop").mkdir(parents=True)
    (tmp_path / "xdg" / "greenloop" / "config.toml").write_text(
        'model = "openai:user-model"\nmax_calls = 7\n[prices."openai:team-model"]\ninput = 1.0\noutput = 2.0\n'
        "[strategies.tree]\nwidth = 3\n")
    (tmp_path / "proj").mkdir()
    (tmp_path / "proj" / "pyproject.toml").write_text(
        '[tool.greenloop]\nmodel = "openai:team-model"\n[tool.greenloop.strategies.tree]\nwidth = 5\n')
    settings = config.load(tmp_path / "proj", {"XDG_CONFIG_HOME": str(tmp_path / "xdg")})
    assert settings.get("model") == ("openai:team-model", str(tmp_path / "proj" / "pyproject.toml"))
    assert settings.get("max_calls") == (7, str(tmp_path / "xdg" / "greenloop" / "config.toml"))
    assert settings.strategy_params("tree") == {"width": 5} and settings.strategy_params("sample") == {}
    before = dict(prices.BUILTIN_PRICES)
    try:
        config.install_prices(settings)
        price = prices.price_for("openai:team-model-2025")
        assert price is not None and price.cost(1_000_000, 500_000) == pytest.approx(2.0)
    finally:
        prices.BUILTIN_PRICES.clear()
        prices.BUILTIN_PRICES.update(before)
        prices._table.cache_clear()
    assert config.load(tmp_path, {"XDG_CONFIG_HOME": str(tmp_path / "none")}).layers == ()
    with pytest.raises(BadInput, match="'tool.greenloop.strategies'"):
        config.check({"strategies": {"tree": 3}}, Path("p.toml"), "tool.greenloop.")


def test_the_readme_example_is_a_valid_config() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
    example = readme.split("```toml\n", 1)[1].split("```", 1)[0]
    layer = config.check(config.tomllib.loads(example)["tool"]["greenloop"], Path("README.md"), "tool.greenloop.")
    assert layer.values["strategy"] == "tree" and layer.strategies and layer.prices
