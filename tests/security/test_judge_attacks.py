"""Red team, part 4: attacks on the judge itself (issue: green that cannot be forged).

Each candidate below is wrong and tries to be judged green anyway by reaching into the process
that judges it: rebinding or patching the equality guard, equality that is always true in
disguise, swapping the test functions' code, skipping tests at run time, deleting tests before
collection, forging signed records with the recorder's own signer, writing into interpreter
objects with ctypes, writing a forged reply into the worker's or judge's pipes, and reading the
expected value out of the test file (the answer key). With the split judge none of them runs in
the judge's process; each test asserts, through the real pool, that the result is not green and
that the pool still judges honest code green afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from greenloop.execute import Limits, Outcome, TestSuite, WorkerPool

TESTS = '''\
from slugger import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


def test_nested():
    assert [slugify("A B")] == ["a-b"]
'''
IMPORT_TIME_TESTS = '''\
import pytest
from slugger import slugify


@pytest.mark.parametrize("fn", [slugify])
def test_basic(fn):
    assert fn("Hello World") == "hello-world"


def test_second():
    assert slugify("A B") == "a-b"
'''
HONEST = "def slugify(text):\n    return '-'.join(text.lower().split())\n"
WRONG = "\ndef slugify(text):\n    return 'wrong'\n"


@pytest.fixture(scope="module", params=[True, False], ids=["fast", "full"])
def pool(request: pytest.FixtureRequest) -> Iterator[WorkerPool]:
    with WorkerPool(TestSuite(TESTS, "test_slugger.py", "slugger"), Limits(timeout=5), fast=request.param) as p:
        yield p


def not_green(pool: WorkerPool, code: str) -> Outcome:
    outcome = pool.run(code)
    assert outcome.judge == "split"
    assert not outcome.green, outcome
    assert outcome.passed < outcome.total
    assert pool.run(HONEST).green, "the pool must still judge honest code correctly afterwards"
    return outcome


# Finds the test module wherever this process might hold it: sys.modules, the call stack, gc.
FIND_TESTS = '''
import gc, sys, types
def test_modules():
    found = [m for name, m in list(sys.modules.items()) if name.startswith("test_")]
    frame = sys._getframe()
    while frame is not None:
        if "test_basic" in frame.f_globals:
            found.append(frame.f_globals)
        frame = frame.f_back
    for obj in gc.get_objects():
        if isinstance(obj, dict) and "test_basic" in obj and "__gl_eq__" in obj:
            found.append(obj)
    return found
def namespace(m):
    return m if isinstance(m, dict) else vars(m)
'''


def test_rebinding_the_equality_guard_global(pool: WorkerPool) -> None:
    not_green(pool, FIND_TESTS + "for m in test_modules():\n    namespace(m)['__gl_eq__'] = lambda *a: True\n"
                                 "def slugify(text):\n    for m in test_modules():\n"
                                 "        namespace(m)['__gl_eq__'] = lambda *a: True\n    return 'wrong'\n")


def test_patching_the_equality_guards_class(pool: WorkerPool) -> None:
    not_green(pool, "from greenloop.execute import guard, runner\n"
                    "guard.EqualityGuard.__call__ = lambda *a: True\n"
                    "runner.equality_guard.__class__.__call__ = lambda *a: True\n" + WRONG)


def test_always_true_eq_from_a_builtin_slot(pool: WorkerPool) -> None:
    not_green(pool, "class Wrong(str):\n    __eq__ = str.__ne__\n    __hash__ = str.__hash__\n\n"
                    "def slugify(text):\n    return Wrong('x')\n")


def test_always_true_eq_compiled_under_a_foreign_filename(pool: WorkerPool) -> None:
    not_green(pool, "ns = {}\nexec(compile('def eq(self, other):\\n    return True\\n', '/usr/lib/python3/x.py', 'exec'), ns)\n"
                    "class Anything:\n    __eq__ = ns['eq']\n    __hash__ = object.__hash__\n\n"
                    "def slugify(text):\n    return Anything()\n")


def test_swapping_the_test_functions_code(pool: WorkerPool) -> None:
    swap = ("ns = {}\nexec(compile('def ok(*a, **k):\\n    pass\\n', '/usr/lib/python3/ok.py', 'exec'), ns)\n"
            "def swap():\n    for m in test_modules():\n        for name, fn in list(namespace(m).items()):\n"
            "            if name.startswith('test_') and hasattr(fn, '__code__'):\n"
            "                fn.__code__ = ns['ok'].__code__\n")
    # A profile hook finishes the swap once the test module body has run (the full path imports
    # the candidate before the test functions exist).
    hook = "import sys\ndef hook(frame, event, arg):\n    swap()\nsys.setprofile(hook)\nswap()\n"
    not_green(pool, FIND_TESTS + swap + hook + WRONG)


def test_adding_skip_marks_at_run_time(pool: WorkerPool) -> None:
    not_green(pool, "import gc, pytest\n"
                    "def slugify(text):\n    for obj in gc.get_objects():\n"
                    "        if type(obj).__name__ == 'Function' and hasattr(obj, 'add_marker'):\n"
                    "            obj.add_marker(pytest.mark.skip(reason='later'))\n"
                    "    pytest.skip('later')\n")


@pytest.mark.parametrize("judge", ["split", "shared"])
def test_skip_marks_added_at_run_time_do_not_count(judge: str) -> None:
    # Right for one test, and the other one marked skip from inside the process that runs it.
    code = ("import gc, sys, pytest\n"
            "def mark():\n    for obj in gc.get_objects():\n"
            "        if type(obj).__name__ == 'Function' and getattr(obj, 'name', '') == 'test_nested':\n"
            "            obj.add_marker(pytest.mark.skip(reason='later'))\n"
            "    frame = sys._getframe()\n    while frame is not None:\n"
            "        for value in list(frame.f_locals.values()):\n"
            "            if type(value).__name__ == 'Function' and getattr(value, 'name', '') == 'test_nested':\n"
            "                value.add_marker(pytest.mark.skip(reason='later'))\n"
            "        frame = frame.f_back\n"
            "mark()\n"
            "def slugify(text):\n    mark()\n    return 'hello-world'\n")
    with WorkerPool(TestSuite(TESTS, "test_slugger.py", "slugger"), Limits(timeout=5), judge=judge) as p:
        outcome = p.run(code)
        assert not outcome.green, outcome
        assert p.run(HONEST).green


@pytest.mark.parametrize("judge", ["split", "shared"])
def test_deleting_a_test_before_collection_with_import_time_use(judge: str) -> None:
    # The tests parametrize over the target at import time, so they are collected per candidate;
    # deleting a test function while the test module imports the candidate must not drop it.
    code = ("import sys\nframe = sys._getframe()\nwhile frame is not None:\n"
            "    frame.f_globals.pop('test_second', None)\n    frame = frame.f_back\n"
            "for name, module in list(sys.modules.items()):\n    if name.startswith('test_'):\n"
            "        vars(module).pop('test_second', None)\n"
            "def slugify(text):\n    return 'hello-world'\n")
    with WorkerPool(TestSuite(IMPORT_TIME_TESTS, "test_slugger.py", "slugger"), Limits(timeout=5), judge=judge) as p:
        outcome = p.run(code)
        assert not outcome.green, outcome
        assert "test_slugger.py::test_second" in {t.test_id for t in outcome.tests}
        assert p.run(HONEST).green


def test_shortening_the_tests_own_cases_at_import_time_in_the_shared_judge() -> None:
    # Import-time use of the target (collected per candidate) and the tests' own list of cases:
    # a shared-judge candidate drops the case it fails from that list while the test module imports it.
    tests = ("import pytest\n\nCASES = [('A', 'a'), ('B C', 'b-c')]\nfrom slugger import slugify  # noqa: E402\n\n"
             "@pytest.mark.parametrize('fn', [slugify])\n@pytest.mark.parametrize('text, want', CASES)\n"
             "def test_cases(fn, text, want):\n    assert fn(text) == want\n")
    code = ("import sys\nframe = sys._getframe()\nwhile frame is not None:\n"
            "    cases = frame.f_globals.get('CASES')\n    if isinstance(cases, list):\n        del cases[1:]\n"
            "    frame = frame.f_back\n"
            "def slugify(text):\n    return text.lower()\n")
    with WorkerPool(TestSuite(tests, "test_slugger.py", "slugger"), Limits(timeout=5), judge="shared") as p:
        outcome = p.run(code)
        assert not outcome.green and "not collected" in outcome.problem, outcome
        assert p.run(HONEST).green


def test_forging_records_with_the_recorders_own_signer(pool: WorkerPool) -> None:
    not_green(pool, "import gc, sys\n"
                    "def slugify(text):\n    senders = []\n    for obj in gc.get_objects():\n"
                    "        if type(obj).__name__ == 'Recorder':\n            senders.append(obj.send)\n"
                    "    frame = sys._getframe()\n    while frame is not None:\n"
                    "        if 'send' in frame.f_locals:\n            senders.append(frame.f_locals['send'])\n"
                    "        frame = frame.f_back\n"
                    "    for send in senders:\n"
                    "        for test in ('test_slugger.py::test_basic', 'test_slugger.py::test_nested'):\n"
                    "            send({'kind': 'test', 'id': test, 'status': 'passed', 'message': '', 'returned': True})\n"
                    "        send({'kind': 'done'})\n        send({'kind': 'exit'})\n"
                    "    return 'wrong'\n")


def test_ctypes_writes_into_interpreter_objects(pool: WorkerPool) -> None:
    # Overwrites, in place, every string constant of the caller frames that has the length of
    # the (wrong) answer: the expected value then reads as the answer.
    not_green(pool, "import ctypes, sys\n"
                    "def slugify(text):\n    answer = 'z' * len(text)\n    frame = sys._getframe(1)\n"
                    "    while frame is not None:\n        for const in frame.f_code.co_consts:\n"
                    "            if type(const) is str and len(const) == len(answer) and const.isascii() and const != text:\n"
                    "                start = id(const) + sys.getsizeof(const) - len(const) - 1\n"
                    "                ctypes.memmove(start, answer.encode(), len(answer))\n"
                    "        frame = frame.f_back\n    return answer\n")


def test_writing_a_forged_reply_into_the_workers_pipes(pool: WorkerPool) -> None:
    reply = ('{"tests": [{"test_id": "test_slugger.py::test_basic", "status": "passed"}, '
             '{"test_id": "test_slugger.py::test_nested", "status": "passed"}], "collected": [], "problem": ""}')
    outcome = not_green(pool, "import os\n"
                              "def slugify(text):\n    opened = 0\n"
                              "    for pid in os.listdir('/proc'):\n        if not pid.isdigit() or int(pid) == os.getpid():\n"
                              "            continue\n        try:\n            fds = os.listdir(f'/proc/{pid}/fd')\n"
                              "        except OSError:\n            continue\n        for fd in fds:\n"
                              "            try:\n                w = os.open(f'/proc/{pid}/fd/{fd}', os.O_WRONLY | os.O_NONBLOCK)\n"
                              f"                os.write(w, b'{reply}\\n')\n                opened += 1\n"
                              "            except OSError:\n                pass\n"
                              "    return f'opened {opened}'\n")
    assert outcome.tests[0].actual == "'opened 0'", outcome.tests[0]


def test_reading_the_answer_key_at_the_callers_line(pool: WorkerPool) -> None:
    # inspect.stack(), sys._getframe(1), linecache and the test file itself: the expected value
    # is on the caller's line in each, if the caller is in this process.
    code = ("import glob, inspect, linecache, re, sys\n"
            "def _expected(line):\n    found = re.findall(r'== \\[?\"([^\"]+)\"', line or '')\n    return found[0] if found else None\n"
            "def slugify(text):\n    lines = []\n"
            "    for info in inspect.stack():\n        lines += info.code_context or []\n"
            "    frame = sys._getframe(1)\n    while frame is not None:\n"
            "        lines.append(linecache.getline(frame.f_code.co_filename, frame.f_lineno))\n"
            "        try:\n            lines += open(frame.f_code.co_filename).read().splitlines()\n"
            "        except OSError:\n            pass\n        frame = frame.f_back\n"
            "    for name in glob.glob('/tmp/**/test_*.py', recursive=True) + glob.glob('../**/test_*.py', recursive=True):\n"
            "        lines += open(name).read().splitlines()\n"
            "    for line in lines:\n        if text in line and _expected(line):\n            return _expected(line)\n"
            "    return 'no answer key'\n")
    outcome = not_green(pool, code)
    assert all(t.actual in ("'no answer key'", "['no answer key']") for t in outcome.tests), outcome


def test_a_forged_class_description_cannot_install_eq(pool: WorkerPool) -> None:
    # The candidate process owns its side of the protocol: it rewrites the description of its
    # class so that the judge-side class would forward __eq__ as a plain method.
    not_green(pool, "from greenloop.execute import candidate\n_describe = candidate.Server._describe\n"
                    "def describe(self, cls):\n    desc = _describe(self, cls)\n"
                    "    desc['methods'].append('__eq__')\n"
                    "    desc['dunders'] = [d for d in desc['dunders'] if d != '__eq__']\n"
                    "    return desc\ncandidate.Server._describe = describe\n"
                    "class Anything:\n    def __eq__(self, other):\n        return True\n    __hash__ = object.__hash__\n"
                    "def slugify(text):\n    return Anything()\n")


def test_stop_iteration_from_a_call_does_not_end_the_tests_loop() -> None:
    tests = "from checks import is_ok\n\n\ndef test_all_ok():\n    assert all(map(is_ok, [1, 2, 3]))\n"
    with WorkerPool(TestSuite(tests, "test_checks.py", "checks"), Limits(timeout=5)) as p:
        outcome = p.run("def is_ok(x):\n    raise StopIteration\n")
        assert outcome.judge == "split" and not outcome.green, outcome
        assert "StopIteration" in outcome.tests[0].message
        assert p.run("def is_ok(x):\n    return x > 0\n").green
