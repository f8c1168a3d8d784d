"""Red team, final round: attacks on the Landlock fence, the descriptors a candidate inherits and
the split judge's handles, and repo mode's private copy, that must stay blocked. Each runs through the real
`WorkerPool` (or `greenloop fix` on a real git repository) and must
end not green (or refused), with honest code still green where a control makes sense."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from greenloop.execute import Limits, TestStatus, TestSuite, WorkerPool, landlock
from security.test_redteam_repo import probe, run_fix
from test_repo_fix import attempts_of, git, make_repo, script, tree_state

PROBE_TESTS = "from probe import attack\n\n\ndef test_attack_worked():\n    assert attack() == 'escaped'\n"

# A child the candidate execs (a new interpreter, a shell) inherits the fence: it writes nowhere
# outside the candidate's directory and lists nothing of /tmp, where the worker keeps the tests.
EXEC_CHILD = r'''
import os, subprocess, sys
def attack():
    script = ("import os, glob\n"
              "top = os.path.dirname(os.path.dirname(os.getcwd()))\n"
              "hits = []\n"
              "for p in [top + '/pwned', '/tmp/pwned', os.path.dirname(os.getcwd()) + '/run/pwned']:\n"
              "    try:\n        open(p, 'w').write('x'); hits.append(p)\n    except OSError:\n        pass\n"
              "for p in glob.glob(top + '/**', recursive=True):\n"
              "    try:\n        open(p).read(); hits.append(p)\n    except OSError:\n        pass\n"
              "print(hits)\n")
    child = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True).stdout.strip()
    shell = subprocess.run(['/bin/sh', '-c', 'echo x > /tmp/pwned2 && echo WROTE; ls /tmp >/dev/null 2>&1 && echo LISTED'],
                           capture_output=True, text=True).stdout
    return 'escaped' if child != '[]' or 'WROTE' in shell or 'LISTED' in shell else 'fenced:' + child + shell
'''


@pytest.mark.skipif(landlock.abi_version() < 1, reason="needs Landlock")
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
def test_a_child_the_candidate_execs_stays_fenced(fast: bool) -> None:
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=5), fast=fast) as p:
        outcome = p.run(EXEC_CHILD)
        assert not outcome.green, outcome
        assert "fenced:[]" in outcome.tests[0].message, outcome.tests[0]  # the probe ran and found nothing


# Writes into the Python installation and greenloop's own source (which the judge imports next).
PLANT = r'''
import os, sys, sysconfig
import greenloop
def attack():
    dirs = {sys.prefix, sys.base_prefix, sysconfig.get_paths()["purelib"], sysconfig.get_paths()["stdlib"],
            os.path.dirname(greenloop.__file__), os.path.dirname(os.path.dirname(greenloop.__file__))}
    hits = []
    for d in sorted(dirs):
        for name in ("zz_redteam.pth", "sitecustomize.py"):
            try:
                with open(os.path.join(d, name), "w") as f:
                    f.write("import os\n")
                hits.append(d)
            except OSError:
                pass
    return 'escaped' if hits else 'refused'
'''


def test_nothing_can_be_planted_in_python_or_greenloops_directories() -> None:
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=5)) as p:
        outcome = p.run(PLANT)
        assert not outcome.green, outcome
        assert "'refused'" in outcome.tests[0].message, outcome.tests[0]


# The candidate's stdout and stderr are a file in the worker's tmpfs, opened before the fence:
# filling it through the inherited descriptor is memory, and counts as such.
FILL_STDOUT = r'''
import os, time
def attack():
    held = 0
    try:
        os.posix_fallocate(1, 0, 200 << 20)
        held = 200 << 20
    except OSError:
        pass
    chunk = b'x' * (1 << 20)
    try:
        for _ in range(200):
            os.write(1, chunk)
            held += 1 << 20
    except OSError:
        pass
    time.sleep(2)
    return 'escaped' if held >= (150 << 20) else 'refused'
'''


def test_filling_the_inherited_stdout_file_is_not_a_way_past_the_memory_limit() -> None:
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=5, memory_mb=128)) as p:
        outcome = p.run(FILL_STDOUT)
        assert not outcome.green, outcome
        assert p.run("def attack():\n    return 'escaped'\n").green


# -- handles in the test's own logic --------------------------------------------------------
COLOR_TESTS = """\
from color import hex_of


def test_red():
    assert hex_of("red") in {"#ff0000", "#f00"}


def test_lookup():
    names = {"#00ff00": "green"}
    assert names[hex_of("green")] == "green"
"""
COLOR_HONEST = "def hex_of(name):\n    return {'red': '#ff0000', 'green': '#00ff00'}[name]\n"


@pytest.mark.parametrize("hashing", ["hash('#ff0000')", "hash('#00ff00')", "0"])
def test_a_handle_hashing_like_the_expected_value_is_not_found_in_a_set_or_dict(hashing: str) -> None:
    """Set membership and dict lookup ask the handle's hash (the candidate's) and then equality,
    which for a handle against plain data is identity: not found."""
    liar = (f"class H:\n    def __hash__(self):\n        return {hashing}\n    def __eq__(self, other):\n"
            "        return True\n\ndef hex_of(name):\n    return H()\n")
    with WorkerPool(TestSuite(COLOR_TESTS, "test_color.py", "color"), Limits(timeout=5), judge="split") as p:
        assert p.run(COLOR_HONEST).green
        outcome = p.run(liar)
        assert outcome.judge == "split" and not outcome.green, outcome
        assert all(t.status != TestStatus.PASSED for t in outcome.tests), outcome.tests


RAISES_TESTS = """\
import pytest
from parse import Parser


def test_empty_is_an_error():
    with Parser() as p:
        with pytest.raises(ValueError):
            p.parse("")
"""


def test_a_context_manager_cannot_swallow_pytest_raises_did_not_raise() -> None:
    """`pytest.raises` that saw nothing raises pytest's own Failed inside the candidate's `with`."""
    honest = ("class Parser:\n    def __enter__(self): return self\n    def __exit__(self, *a): return False\n"
              "    def parse(self, text):\n        if not text:\n            raise ValueError('empty')\n"
              "        return text\n")
    swallow = ("class Parser:\n    def __enter__(self): return self\n    def __exit__(self, *a): return True\n"
               "    def parse(self, text):\n        return text\n")
    with WorkerPool(TestSuite(RAISES_TESTS, "test_parse.py", "parse"), Limits(timeout=5), judge="split") as p:
        assert p.run(honest).green
        outcome = p.run(swallow)
        assert outcome.judge == "split" and not outcome.green, outcome


# -- processes left behind, seen by a later job through /proc --------------------------------------
# (Writing to a file in /tmp no longer works as a witness since the fence: a child's cmdline does.)
SPAWN_LEFTOVERS = (
    "import os, subprocess, time\n"
    "def attack():\n"
    "    subprocess.Popen(['/bin/sh', '-c', '(sleep 731.5 &) ; exec sleep 731.6'], start_new_session=True,\n"
    "                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)\n"
    "    if os.fork() == 0:\n        os.setsid()\n        if os.fork() == 0:\n"
    "            os.execv('/bin/sleep', ['sleep', '731.7'])\n        os._exit(0)\n"
    "    time.sleep(0.3)\n    seen = 0\n"
    "    for pid in os.listdir('/proc'):\n"
    "        try:\n            seen += b'731.' in open('/proc/' + pid + '/cmdline', 'rb').read()\n"
    "        except OSError:\n            pass\n"
    "    return 'seen:' + str(seen)\n")
FIND_LEFTOVERS = (
    "import os\n"
    "def attack():\n    alive = []\n"
    "    for pid in os.listdir('/proc'):\n"
    "        try:\n            line = open('/proc/' + pid + '/cmdline', 'rb').read()\n"
    "        except OSError:\n            continue\n"
    "        if b'731.' in line:\n            alive.append(line.decode().replace(chr(0), ' '))\n"
    "    return 'alive:' + repr(alive)\n")


@pytest.mark.parametrize("judge", ["split", "shared"])
def test_setsid_and_reparented_execs_do_not_outlive_their_job(judge: str) -> None:
    """A detached shell's background job, a double-forked execed `sleep` and a new session: all three
    are seen alive by their own job (the witness works) and by no later job of the same pool."""
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=3), judge=judge) as p:
        outcome = p.run(SPAWN_LEFTOVERS)
        assert not outcome.green and "'seen:3'" in outcome.tests[0].message, outcome.tests[0]
        outcome = p.run(FIND_LEFTOVERS)
        assert "'alive:[]'" in outcome.tests[0].message, outcome.tests[0]


def test_leftovers_of_one_pool_are_not_seen_by_another_pool_of_the_same_zygote() -> None:
    other = "from other import attack\n\n\ndef test_other():\n    assert attack() == 'x'\n"
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=3)) as a, \
            WorkerPool(TestSuite(other, "test_other.py", "other"), Limits(timeout=3)) as b:
        outcome = a.run(SPAWN_LEFTOVERS)
        assert "'seen:3'" in outcome.tests[0].message, outcome.tests[0]
        outcome = b.run(FIND_LEFTOVERS)
        assert "'alive:[]'" in outcome.tests[0].message, outcome.tests[0]


# -- repo mode: secret-like files, even committed, never reach the code under test ----------------
SECRETS = {".env": "API_KEY=ENVSECRET_11\n", "server.pem": "-----BEGIN PRIVATE KEY-----PEMSECRET_22\n",
           "id_rsa": "RSASECRET_33\n"}
READ_SECRETS = """import os
root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
found = []
for rel in [''.join(['.e', 'nv']), ''.join(['server.p', 'em']), 'id' + '_rsa']:
    try:
        found.append(open(os.path.join(root, rel)).read())
    except OSError as exc:
        found.append(type(exc).__name__)"""


@pytest.mark.parametrize("committed", [False, True], ids=["untracked", "committed"])
def test_secret_like_files_are_not_in_the_private_copy(tmp_path: Path, committed: bool) -> None:
    """Not ignored, or even committed: the code under test reads them at run time and would quote
    them into its failure message, hence the feedback, the store and the next prompt."""
    repo = make_repo(tmp_path / "repo")
    for name, text in SECRETS.items():
        (repo / name).write_text(text)
    if committed:
        git(repo, "add", "-f", *SECRETS)
        git(repo, "commit", "-q", "-m", "secrets")
    before = tree_state(repo)
    proc = run_fix(repo, script(tmp_path, probe("secrets", READ_SECRETS)), extra=("--max-calls", "1"))
    assert proc.returncode == 1, proc.stderr[-2000:]
    feedback = str(attempts_of(tmp_path, json.loads(proc.stdout)["run_id"])[1]["feedback"])
    assert "PROBE-secrets ['FileNotFoundError', 'FileNotFoundError', 'FileNotFoundError']" in feedback, feedback
    stored = (tmp_path / "runs.db").read_bytes()
    for marker in ("ENVSECRET_11", "PEMSECRET_22", "RSASECRET_33"):
        assert marker.encode() not in stored
    assert tree_state(repo) == before


# The output file is shared with the judge (same descriptor): reopening it for reading through the
# inherited descriptor's /proc link, /dev/stdout or the path beside the candidate's directory is
# the fence's to refuse, and the descriptor itself is write-only.
REREAD_OUTPUT = r'''
import os
def attack():
    found = []
    for path in ('/proc/self/fd/1', '/proc/self/fd/2', '/dev/stdout', '/proc/self/cwd/../run/.out'):
        try:
            with open(path, 'rb') as f:
                found.append('READ ' + path + repr(f.read(50)))
        except OSError:
            pass
    try:
        found.append('PREAD ' + repr(os.pread(1, 10, 0)))
    except OSError:
        pass
    return 'escaped' if found else 'refused'
'''


@pytest.mark.skipif(landlock.abi_version() < 1, reason="needs Landlock")
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "full"])
def test_the_inherited_output_file_cannot_be_read_back(fast: bool) -> None:
    with WorkerPool(TestSuite(PROBE_TESTS, "test_probe.py", "probe"), Limits(timeout=5), fast=fast) as p:
        outcome = p.run(REREAD_OUTPUT)
        assert not outcome.green, outcome
        assert "'refused'" in outcome.tests[0].message, outcome.tests[0]
