"""Files are memory: bytes a candidate keeps in the sandbox's private /tmp count in its budget."""

from __future__ import annotations

import pytest

from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.execute.sandbox import bwrap_problem

pytestmark = pytest.mark.skipif(bool(bwrap_problem()), reason=f"needs bubblewrap: {bwrap_problem()}")

TESTS = "from probe import attack\n\n\ndef test_attack_worked():\n    assert attack() == 'escaped'\n"
# 16 MB files (the file-size rlimit) up to 448 MB under a 256 MB budget, in the one directory the
# candidate may write (its own, in the sandbox's /tmp); the process itself stays small.
HOARDER = (
    "import os, time\ndef attack():\n    chunk = b'x' * (16 << 20)\n    os.makedirs('hoard', exist_ok=True)\n"
    "    for i in range(28):\n        with open(f'hoard/{i}', 'wb') as f:\n            f.write(chunk)\n"
    "    time.sleep(5)\n    return 'escaped'\n"
)


@pytest.mark.parametrize("judge", ["split", "shared"])
def test_files_in_the_private_tmp_count_against_the_memory_limit(judge: str) -> None:
    with WorkerPool(TestSuite(TESTS, "test_probe.py", "probe"), Limits(timeout=8, memory_mb=256), judge=judge) as pool:
        outcome = pool.run(HOARDER)
        assert not outcome.green
        assert "exceeded the memory limit" in outcome.problem, outcome
        # The same candidate within budget (fewer files) is judged on its merits.
        assert pool.run(HOARDER.replace("range(28)", "range(2)").replace("time.sleep(5)", "")).green
