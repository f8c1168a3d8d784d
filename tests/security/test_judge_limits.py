"""Red team: a candidate that holds memory the limit does not see, or that reaches the trusted
processes with signals (issue 9, second round).

Each attack runs through a real `WorkerPool` (bubblewrap, zygote, worker, judge, candidate), with
both judges where the candidate's process differs: `split` (a candidate process of its own) and
`shared` (the candidate inside the judge child). The probe's test asserts `attack() == 'escaped'`;
the candidate reports what the kernel answered, so each test sees *why* the attack failed.
"""

from __future__ import annotations

import time

import pytest

from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.execute.confine import CANDIDATE_NOFILE, landlock_abi
from greenloop.execute.sandbox import bwrap_problem

pytestmark = pytest.mark.skipif(bool(bwrap_problem()), reason=f"needs bubblewrap: {bwrap_problem()}")
needs_signal_scope = pytest.mark.skipif(
    landlock_abi() < 6, reason="the kernel has no Landlock signal scope (Linux >= 6.12): candidates can signal there")

PROBE_TESTS = "from probe import attack\n\n\ndef test_attack_worked():\n    assert attack() == 'escaped'\n"
HONEST = "def attack():\n    return 'escaped'\n"
JUDGES = pytest.mark.parametrize("judge", ["split", "shared"])


def probe(judge: str, memory_mb: int = 256, timeout: float = 8) -> WorkerPool:
    return WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=timeout, memory_mb=memory_mb),
                      judge=judge)


@JUDGES
def test_memfd_pages_cannot_be_held_outside_the_memory_limit(judge: str) -> None:
    # 48 memfds of 16 MiB each (RLIMIT_FSIZE caps one, not their number), written and never
    # mapped: in no resident set and in neither tmpfs. memfd_create answers EPERM.
    attack = ("import errno, os\nheld = []\n"
              "def attack():\n    chunk = b'x' * (1 << 20)\n"
              "    try:\n        for i in range(48):\n            fd = os.memfd_create(f'm{i}')\n"
              "            for _ in range(16):\n                os.write(fd, chunk)\n            held.append(fd)\n"
              "    except OSError as exc:\n        return 'refused ' + errno.errorcode[exc.errno]\n"
              "    return 'escaped'\n")
    with probe(judge) as pool:
        outcome = pool.run(attack)
        assert not outcome.green, outcome
        assert outcome.tests[0].actual == "'refused EPERM'", outcome.tests[0]
        assert pool.run(HONEST).green  # the worker still judges


def test_sysv_ipc_is_refused_and_nothing_outlives_the_job() -> None:
    # SysV segments belong to the sandbox's IPC namespace, which lives as long as the zygote: a
    # candidate could hold 768 MiB under a 256 MiB limit and leave it to the next one. Every
    # way in (a segment, a message queue, a semaphore set) answers EPERM.
    gets = ("import ctypes, errno\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "def attack():\n    seen = []\n"
            "    for name, args in (('shmget', (0, 64 << 20, 0o1600)), ('msgget', (0, 0o1600)), "
            "('semget', (0, 4, 0o1600))):\n"
            "        ctypes.set_errno(0)\n        got = getattr(libc, name)(*args)\n"
            "        seen.append(f'{name} ' + (errno.errorcode.get(ctypes.get_errno(), '?') if got == -1 else 'made'))\n"
            "    return ', '.join(seen)\n")
    # The red team's attack as it was, then what is left in the namespace for the next candidate.
    hold = ("import ctypes\nlibc = ctypes.CDLL(None, use_errno=True)\n"
            "libc.shmat.restype = ctypes.c_void_p\n"
            "libc.shmat.argtypes = [ctypes.c_int, ctypes.c_void_p, ctypes.c_int]\n"
            "libc.shmdt.argtypes = [ctypes.c_void_p]\n"
            "def attack():\n    size = 64 << 20\n    for _ in range(12):\n"
            "        sid = libc.shmget(0, size, 0o1600)\n        addr = libc.shmat(sid, None, 0)\n"
            "        ctypes.memset(addr, 1, size)\n        libc.shmdt(ctypes.c_void_p(addr))\n"
            "    return 'escaped'\n")
    left = "def attack():\n    return str(len(open('/proc/sysvipc/shm').read().splitlines()) - 1)\n"
    with probe("split") as pool:
        outcome = pool.run(gets)
        assert outcome.tests[0].actual == "'shmget EPERM, msgget EPERM, semget EPERM'", outcome.tests[0]
        assert not pool.run(hold).green
        assert pool.run(left).tests[0].actual == "'0'"  # no segment in the namespace


@JUDGES
def test_a_candidate_holds_at_most_candidate_nofile_descriptors(judge: str) -> None:
    # Each pipe can pin up to 1 MiB of kernel buffers that no resident set shows.
    attack = ("import errno, os\nheld = []\n"
              "def attack():\n    try:\n        for _ in range(4096):\n            held.extend(os.pipe())\n"
              "    except OSError as exc:\n        return f'{errno.errorcode[exc.errno]} at {len(held)}'\n"
              "    return 'escaped'\n")
    with probe(judge) as pool:
        outcome = pool.run(attack)
    assert not outcome.green
    why, _at, count = str(outcome.tests[0].actual).strip("'").partition(" at ")
    assert why == "EMFILE", outcome.tests[0]
    assert int(count) <= CANDIDATE_NOFILE


@needs_signal_scope
@JUDGES
def test_stopping_every_other_process_is_refused_and_the_limits_hold(judge: str) -> None:
    # Signals need only the same uid (non-dumpable does not matter): SIGSTOP to every process it
    # can find in /proc used to stop the worker, which enforces the time, memory and process
    # limits, and then the zygote; after ~131 s the run ended ("the sandbox zygote is gone").
    attack = ("import os, signal, time\n"
              "def attack():\n    me, reached = os.getpid(), []\n"
              "    for pid in os.listdir('/proc'):\n"
              "        if pid.isdigit() and int(pid) != me:\n"
              "            try:\n                os.kill(int(pid), signal.SIGSTOP)\n                reached.append(pid)\n"
              "            except OSError:\n                pass\n"
              "    for target in (-1, 0):\n"  # every process it may signal; its own group
              "        try:\n            os.kill(target, signal.SIGSTOP if target else 0)\n"
              "        except OSError:\n            pass\n"
              "    time.sleep(60)\n    return 'escaped'\n")
    with probe(judge, timeout=1) as pool:
        started = time.monotonic()
        outcome = pool.run(attack)
        took = time.monotonic() - started
        assert not outcome.green
        assert "timed out" in outcome.problem, outcome  # the worker's own limit, not the pool's
        assert took < 8, f"the candidate ran unsupervised for {took:.1f} s with a 1 s timeout"
        assert pool.run(HONEST).green


@needs_signal_scope
@JUDGES
def test_killing_every_other_process_reaches_none_and_the_run_goes_on(judge: str) -> None:
    attack = ("import os, signal\n"
              "def attack():\n    me, reached = os.getpid(), []\n"
              "    for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != me]:\n"
              "        for sig in (0, signal.SIGKILL):\n"
              "            try:\n                os.kill(int(pid), sig)\n                reached.append(pid)\n"
              "            except OSError:\n                pass\n"
              "    os.kill(-1, signal.SIGKILL)\n"  # succeeds even when it reaches nobody (EPERM is skipped)
              "    return 'reached ' + ' '.join(sorted(set(reached)))\n")
    with probe(judge) as pool:
        outcome = pool.run(attack)
        assert outcome.tests[0].actual == "'reached '", outcome.tests[0]  # not even signal 0
        assert pool.run(HONEST).green  # the same worker, forker and zygote judge the next one
        assert pool.run(HONEST).green


@needs_signal_scope
@JUDGES
def test_a_candidate_still_signals_itself_and_its_own_children(judge: str) -> None:
    # The scope is the candidate's own domain: what it forks is in it (a subprocess it times out
    # and kills, a signal to itself) and works as it would anywhere.
    own = ("import os, signal, subprocess, sys\n"
           "def attack():\n"
           "    child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(30)'])\n"
           "    child.kill()\n    code = child.wait()\n"
           "    got = []\n    signal.signal(signal.SIGUSR1, lambda *a: got.append(1))\n"
           "    os.kill(os.getpid(), signal.SIGUSR1)\n"
           "    return 'escaped' if code == -signal.SIGKILL and got else f'{code} {got}'\n")
    with probe(judge) as pool:
        outcome = pool.run(own)
    assert outcome.green, outcome


@needs_signal_scope
@JUDGES
def test_signals_by_pidfd_and_by_sigio_reach_none_either(judge: str) -> None:
    # Two paths that name no pid a system-call filter could read: pidfd_send_signal on a
    # /proc/PID directory descriptor, and an fd whose owner (F_SETOWN) is another process and
    # whose I/O signal (F_SETSIG) is SIGKILL.
    attack = ("import fcntl, os, signal, socket, time\nheld = []\n"
              "def attack():\n    me, reached = os.getpid(), []\n"
              "    for pid in [p for p in os.listdir('/proc') if p.isdigit() and int(p) != me]:\n"
              "        try:\n            fd = os.open('/proc/' + pid, os.O_RDONLY | os.O_DIRECTORY)\n"
              "            signal.pidfd_send_signal(fd, signal.SIGKILL)\n            reached.append(pid)\n"
              "        except OSError:\n            pass\n"
              "        a, b = socket.socketpair()\n        held.extend((a, b))\n"
              "        fcntl.fcntl(a, fcntl.F_SETOWN, int(pid))\n        fcntl.fcntl(a, 10, signal.SIGKILL)\n"
              "        fcntl.fcntl(a, fcntl.F_SETFL, fcntl.fcntl(a, fcntl.F_GETFL) | os.O_ASYNC)\n"
              "        b.send(b'x')\n"
              "    time.sleep(0.2)\n"
              "    return 'reached ' + ' '.join(reached)\n")
    with probe(judge) as pool:
        outcome = pool.run(attack)
        assert outcome.tests[0].actual == "'reached '", outcome.tests[0]
        assert pool.run(HONEST).green  # nothing the SIGIO owners named was killed
        assert pool.run(HONEST).green
