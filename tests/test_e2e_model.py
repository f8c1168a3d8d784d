"""End to end with the embedded model (SmolLM2-135M via llama.cpp) on the demo task.

The model is weak and sampled at T > 0; the loop is what makes it converge. The seed is fixed so
the run is repeatable; benchmarks/demo_convergence.py measures the rate over many seeds.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

DEMO = Path(__file__).resolve().parent.parent / "examples" / "demo" / "test_temperature.py"

pytestmark = pytest.mark.model


def test_embedded_model_reaches_green_on_the_demo_task(tmp_path: Path) -> None:
    shutil.copy(DEMO, tmp_path)
    proc = subprocess.run(
        [sys.executable, "-m", "greenloop", "solve", "--tests", "test_temperature.py", "--target", "temperature.py",
         "--max-calls", "150", "--max-seconds", "240", "--seed", "0", "--json", "--db", "runs.db"],
        cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
    )
    assert proc.returncode == 0, (proc.stdout, proc.stderr[-2000:])
    result = json.loads(proc.stdout)
    assert result["status"] == "green" and result["model_calls"] >= 1
    assert result["prompt_tokens"] > 0 and result["completion_tokens"] > 0
    # Independent check: plain pytest, outside greenloop, agrees.
    check = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "test_temperature.py"],
                           cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False)
    assert check.returncode == 0, check.stdout
