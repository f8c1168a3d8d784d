"""Red team, part 2: candidates that try to escape, hog or outlive the sandbox.

Each test runs a probe whose test *asserts the attack worked*: the sandbox holds when the run is
not green, and the host-side check (file absent, nothing connected, process gone) agrees.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

import greenloop
from greenloop.execute import Limits, TestStatus, TestSuite, WorkerPool
from greenloop.execute.sandbox import bwrap_problem

pytestmark = pytest.mark.skipif(bool(bwrap_problem()), reason=f"needs bubblewrap: {bwrap_problem()}")

PROBE_TESTS = "from probe import attack\n\n\ndef test_attack_worked():\n    assert attack() == 'escaped'\n"


def run_probe(code: str, limits: Limits | None = None):
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), limits or Limits(timeout=3)) as pool:
        outcome = pool.run(code)
        # the worker survives and still judges honest code
        assert pool.run("def attack():\n    return 'escaped'\n").green
    assert not outcome.green, outcome
    return outcome


def test_fork_bomb_is_stopped() -> None:
    outcome = run_probe(
        "import os\ndef attack():\n    while True:\n        try:\n            os.fork()\n        except OSError:\n            pass\n",
        Limits(timeout=5, max_processes=32),
    )
    # Stopped by whichever limit the watcher sees first: each forked process holds the warm worker's
    # resident pages, so a few dozen of them can pass the memory budget before the count is checked.
    assert any(why in outcome.problem for why in ("process limit", "timed out", "memory limit")), outcome.problem
    assert not outcome.green


def test_memory_bomb_is_stopped() -> None:
    outcome = run_probe("def attack():\n    blocks = []\n    while True:\n        blocks.append(bytearray(50 * 1024 * 1024))\n",
                        Limits(timeout=5, memory_mb=512))
    assert outcome.tests[0].status in (TestStatus.ERROR, TestStatus.FAILED) or "memory" in outcome.problem


def test_memory_spread_over_child_processes_is_stopped() -> None:
    code = (
        "import os, time\ndef attack():\n    for _ in range(8):\n        if os.fork() == 0:\n"
        "            data = bytearray(200 * 1024 * 1024)\n            time.sleep(10)\n            os._exit(0)\n"
        "    time.sleep(10)\n    return 'escaped'\n"
    )
    outcome = run_probe(code, Limits(timeout=8, memory_mb=768))
    assert "memory limit" in outcome.problem


def test_infinite_loop_times_out() -> None:
    outcome = run_probe("def attack():\n    while True:\n        pass\n", Limits(timeout=1))
    assert outcome.tests[0].status is TestStatus.TIMEOUT


def test_cpu_spin_in_a_thread_times_out() -> None:
    code = "import threading\ndef attack():\n    t = threading.Thread(target=lambda: [None for _ in iter(int, 1)])\n    t.start()\n    t.join()\n"
    outcome = run_probe(code, Limits(timeout=1))
    assert "timed out" in outcome.problem


def test_time_monkeypatching_does_not_defeat_the_timeout() -> None:
    code = ("import time\ntime.time = lambda: 0.0\ntime.monotonic = lambda: 0.0\ntime.perf_counter = lambda: 0.0\n"
            "def attack():\n    while True:\n        pass\n")
    assert "timed out" in run_probe(code, Limits(timeout=1)).problem


def test_signal_tricks_do_not_defeat_the_timeout() -> None:
    code = ("import os, signal\nfor s in (signal.SIGTERM, signal.SIGINT, signal.SIGALRM, signal.SIGHUP):\n"
            "    signal.signal(s, signal.SIG_IGN)\ndef attack():\n    os.kill(os.getpid(), signal.SIGSTOP)\n")
    assert "timed out" in run_probe(code, Limits(timeout=1)).problem


def test_sleeping_child_that_outlives_the_candidate_is_killed() -> None:
    # The first candidate leaves a sleeper behind and says its pid (the failed assert carries it);
    # the next one, in the same sandbox and PID namespace, looks for it.
    tests = "from probe import attack\n\ndef test_probe():\n    assert attack() == 'gone'\n"
    spawn = ("import os, time\ndef attack():\n    pid = os.fork()\n    if pid == 0:\n        os.setsid()\n"
             "        time.sleep(60)\n        os._exit(0)\n    return f'spawned {pid}'\n")
    with WorkerPool(TestSuite(tests, "test_probe.py", "probe"), Limits(timeout=3)) as pool:
        first = pool.run(spawn)
        pid = int(first.tests[0].actual.strip("'").split()[1])  # it did spawn a sleeper
        # Killed but not yet reaped (a zombie, state Z) runs nothing: that is gone too. The worker
        # kills it before the next job; the look allows a loaded machine half a second to let it die
        # (it sleeps for a minute: a sleeper that escaped the kill is still there).
        look = ("import time\ndef attack():\n    for _ in range(50):\n        try:\n"
                f"            state = open('/proc/{pid}/stat').read().rsplit(')', 1)[1].split()[0]\n"
                "        except OSError:\n            return 'gone'\n"
                "        if state in ('Z', 'X'):\n            return 'gone'\n        time.sleep(0.01)\n"
                "    return 'alive ' + state\n")
        second = pool.run(look)
        assert second.green, f"the sleeper {pid} outlived its candidate: {second.tests[0]}"


def test_cannot_write_outside_its_scratch_dir(tmp_path: Path) -> None:
    targets = [tmp_path / "pwned", Path(greenloop.__file__).parent / "pwned.py", Path.home() / "greenloop-pwned"]
    code = (
        "def attack():\n    wrote = 0\n"
        f"    for path in {[str(t) for t in targets]!r}:\n"
        "        try:\n            open(path, 'w').write('x')\n            wrote += 1\n        except OSError:\n            pass\n"
        "    return 'escaped' if wrote else 'contained'\n"
    )
    run_probe(code)
    for target in targets:
        assert not target.exists(), f"the candidate wrote {target}"


def test_cannot_read_host_environment_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GREENLOOP_TEST_SECRET", "hunter2")
    run_probe("import os\ndef attack():\n    return 'escaped' if os.environ.get('GREENLOOP_TEST_SECRET') else 'no'\n")


def test_cannot_read_the_users_files(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("s3cret")
    repo_file = Path(__file__).resolve()  # the repository's tests are not part of the sandbox
    code = (
        "import os\ndef attack():\n"
        f"    for path in ({str(secret)!r}, {str(repo_file)!r}, os.path.expanduser('~/.ssh/id_rsa'), '/root/.bash_history'):\n"
        "        try:\n            open(path).read()\n            return 'escaped'\n        except OSError:\n            pass\n"
        "    return 'contained'\n"
    )
    run_probe(code)


def test_cannot_open_a_network_connection() -> None:
    accepted: list[object] = []
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(5)
    port = server.getsockname()[1]

    def accept() -> None:
        try:
            accepted.append(server.accept())
        except OSError:
            pass

    thread = threading.Thread(target=accept)
    thread.start()
    try:
        code = ("import socket\ndef attack():\n    try:\n"
                f"        socket.create_connection(('127.0.0.1', {port}), timeout=1)\n        return 'escaped'\n"
                "    except OSError:\n        return 'contained'\n")
        run_probe(code)
        time.sleep(0.2)
    finally:
        server.close()
        thread.join()
    assert not accepted, "the candidate reached a host listener"


def test_runs_as_an_unprivileged_user() -> None:
    run_probe("import os\ndef attack():\n    return 'escaped' if os.getuid() == 0 else 'no'\n")


def test_sandbox_unavailable_is_an_infrastructure_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from greenloop.execute import ExecutorError, pool

    monkeypatch.setattr(pool, "worker_command", lambda: (["/bin/false"], True))
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe")) as broken:
        with pytest.raises(ExecutorError, match="failed to start"):
            broken.run("def attack():\n    return 1\n")
    assert os.environ.get("GREENLOOP_SANDBOX") != "none"
