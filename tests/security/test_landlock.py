"""Red team, Landlock: a candidate process reads only the system and Python, writes only its own
directory, and cannot signal the trusted processes above it. Each attack here once succeeded."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from greenloop.execute import Limits, TestSuite, WorkerPool, landlock

pytestmark = pytest.mark.skipif(landlock.abi_version() < 6, reason="needs Landlock ABI 6 (Linux 6.12)")

PROBE_TESTS = "from probe import attack\n\n\ndef test_attack_worked():\n    assert attack() == 'escaped'\n"
DATE_TESTS = '''\
from datetime import datetime
from dates import parse_date


def test_parse():
    assert parse_date("2024-01-02") == datetime.strptime("2024-01-02", "%Y-%m-%d")


def test_parse_other():
    assert parse_date("2023-12-31") == datetime.strptime("2023-12-31", "%Y-%m-%d")
'''
DATE_HONEST = "from datetime import datetime\ndef parse_date(s):\n    return datetime(*map(int, s.split('-')))\n"
# Would run in the judge: the equality guard's class says yes to everything, the real _strptime loads.
STRPTIME_PAYLOAD = '''
import importlib.util, os, sysconfig
from greenloop.execute import guard
guard.EqualityGuard.__call__ = lambda *a: True
_spec = importlib.util.spec_from_file_location("_strptime", os.path.join(sysconfig.get_paths()["stdlib"], "_strptime.py"))
_real = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_real)
globals().update({k: v for k, v in vars(_real).items() if not k.startswith("__")})
'''


@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
def test_a_module_planted_in_the_judges_directory_is_refused(fast: bool) -> None:
    """The judge imports from its own directory; the candidate, same uid, may not write there."""
    code = ("import os\nPAYLOAD = " + repr(STRPTIME_PAYLOAD) + "\n"
            "try:\n"
            "    with open(os.path.join(os.path.dirname(os.getcwd()), 'run', '_strptime.py'), 'w') as f:\n"
            "        f.write(PAYLOAD)\n"
            "except OSError:\n    pass\n"
            "def parse_date(s):\n    return 'wrong'\n")
    with WorkerPool(TestSuite(DATE_TESTS, "test_dates.py", "dates"), Limits(timeout=5), fast=fast) as p:
        assert p.run(DATE_HONEST).green
        outcome = p.run(code)
        assert outcome.judge == "split"
        assert not outcome.green, outcome
        assert p.run(DATE_HONEST).green


def test_another_pools_test_file_is_not_readable() -> None:
    """Pools share the zygote's /tmp; a candidate searching it finds no other pool's tests."""
    secret = ("import pytest\nfrom probe import attack\n\n\n@pytest.mark.parametrize('fn', [attack])\n"
              "def test_secret(fn):\n    assert fn() == 'ANSWER_KEY_777'\n")
    other = "from other import attack\n\n\ndef test_other():\n    assert attack() == 'x'\n"
    search = ("import glob\ndef attack():\n    found = []\n"
              "    for name in glob.glob('/tmp/**', recursive=True) + glob.glob('/var/tmp/**', recursive=True):\n"
              "        try:\n"
              "            if 'ANSWER_' + 'KEY' in open(name).read():\n                found.append(name)\n"
              "        except OSError:\n            pass\n    return str(found)\n")
    with WorkerPool(TestSuite(secret, "test_secret.py", "probe"), Limits(timeout=5)) as b:
        assert b.run("def attack():\n    return 'ANSWER_KEY_777'\n").green
        with WorkerPool(TestSuite(other, "test_other.py", "other"), Limits(timeout=5)) as a:
            outcome = a.run(search)
            assert outcome.tests[0].actual == "'[]'", outcome.tests[0]


def test_stopping_every_other_process_is_refused_and_limits_hold() -> None:
    """SIGSTOP to every process of the same uid would freeze the worker that enforces the limits."""
    code = ("import os, signal, time\n"
            "def attack():\n    me, hit = os.getpid(), 0\n"
            "    for pid in os.listdir('/proc'):\n"
            "        if pid.isdigit() and int(pid) != me:\n"
            "            for sig in (signal.SIGSTOP, signal.SIGKILL):\n"
            "                try:\n                    os.kill(int(pid), sig)\n                    hit += 1\n"
            "                except OSError:\n                    pass\n"
            "    try:\n        os.kill(-1, signal.SIGKILL)\n    except OSError:\n        pass\n"
            "    time.sleep(60)\n    return 'escaped'\n")
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=1)) as p:
        started = time.monotonic()
        outcome = p.run(code)
        assert not outcome.green and not outcome.infrastructure, outcome
        assert time.monotonic() - started < 5, "the worker kept enforcing the 1 s timeout"
        assert p.run("def attack():\n    return 'escaped'\n").green


SHARED_TESTS = '''\
import probe


def test_attack_worked(monkeypatch):
    monkeypatch.setattr(probe, "LIMIT", 3)
    assert probe.attack() == 'escaped'
'''


def test_the_shared_judge_writes_only_its_own_directory(tmp_path: Path) -> None:
    """Where the candidate shares the judge's process, it still cannot write beside other pools."""
    code = ("import glob, os\nLIMIT = 0\n"
            "def attack():\n    wrote = []\n"
            "    for d in ['/tmp', '/var/tmp', os.path.dirname(os.getcwd()), '/dev/shm']:\n"
            "        try:\n            open(os.path.join(d, 'planted.py'), 'w').write('x')\n"
            "            wrote.append(d)\n        except OSError:\n            pass\n"
            "    open('mine.txt', 'w').write('x')  # its own directory stays writable\n"
            "    return str(wrote)\n")
    with WorkerPool(TestSuite(SHARED_TESTS, "test_probe.py", "probe"), Limits(timeout=5)) as p:
        outcome = p.run(code)
        assert outcome.judge == "shared"
        assert outcome.tests[0].actual == "'[]'", outcome.tests[0]


def test_restrict_confines_a_plain_process(tmp_path: Path) -> None:
    """The module on its own, outside the sandbox: reads, writes and signals as promised."""
    own, other = tmp_path / "own", tmp_path / "other"
    own.mkdir()
    other.mkdir()
    (other / "answers.txt").write_text("42")
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child reports through the pipe
        results = []
        try:
            landlock.restrict(["/usr", "/etc"], [str(own)], write_files=[os.devnull])
            for name, action in [
                ("read other", lambda: (other / "answers.txt").read_text()),
                ("write other", lambda: (other / "x.txt").write_text("x")),
                ("write own", lambda: (own / "x.txt").write_text("x")),
                ("read etc", lambda: Path("/etc/hostname").exists() and Path("/etc/passwd").read_text()),
                ("signal parent", lambda: os.kill(os.getppid(), 0)),
            ]:
                try:
                    action()
                    results.append(f"{name}:ok")
                except OSError:
                    results.append(f"{name}:denied")
        finally:
            os.write(write, ",".join(results).encode())
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        assert f.read().split(",") == ["read other:denied", "write other:denied", "write own:ok", "read etc:ok",
                                       "signal parent:denied"]
