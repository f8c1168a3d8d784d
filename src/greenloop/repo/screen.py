"""Screening a candidate's Python before it may count as green.

In repo mode the code under test runs in the same process as the user's tests, so a candidate can
try to win by tampering instead of fixing: exit early, patch pytest or the builtins, skip the test,
read the test's frames, behave differently when pytest is loaded. Each changed `.py` file is parsed
(as bytes, so a `coding:` declaration is honoured exactly as Python would) and what its syntax tree
does is compared with the original's: a construct of a kind below that the candidate *added* (it
occurs more often than before) makes the candidate ineligible for green, and the reasons become
the model's feedback. Regexes over text would miss `getattr(os, "_exit")`; the tree does not.
"""

from __future__ import annotations

import ast
import re
import string
from collections import Counter

# Modules whose import from code under test means tampering with the test run or the process.
_MODULES = {
    "pytest": "imports pytest (the code under test must not depend on the test runner)",
    "_pytest": "imports pytest's internals", "pluggy": "imports pytest's plugin machinery",
    "unittest": "imports unittest (skips, results and runners belong to the tests)",
    "doctest": "imports doctest", "atexit": "registers exit handlers (atexit)",
    "builtins": "patches or reads builtins", "gc": "walks live objects (gc)", "ctypes": "uses ctypes",
    "inspect": "inspects frames or source (inspect)", "faulthandler": "uses faulthandler",
    "importlib": "imports modules dynamically (importlib)", "sys": None, "os": None,
    "signal": "installs signal handlers", "threading": None, "_thread": "uses _thread",
    "trace": "traces execution", "tracemalloc": None, "site": "uses site", "code": "uses code",
    "pdb": "uses pdb", "bdb": "uses bdb", "xml": None, "junit_xml": "writes test reports",
    "posix": "uses posix directly", "resource": "changes resource limits", "marshal": "loads code objects",
    "pickle": None, "types": None, "runpy": "runs modules (runpy)", "subprocess": None,
    "shelve": "loads pickled objects (shelve)", "dill": "loads pickled code (dill)",
    "cloudpickle": "loads pickled code", "_pickle": "loads pickled objects", "copyreg": "changes pickling",
    "zipimport": "imports code from archives", "platform": "inspects the machine it runs on (platform)",
    "getpass": "inspects the user it runs as (getpass)", "pwd": "inspects the user it runs as (pwd)",
    "mock": "imports mock objects", "dirty_equals": "imports objects equal to anything",
    "hamcrest": "imports matchers",
    "pkgutil": "resolves objects by name (pkgutil.resolve_name reaches any module's internals)",
    "pydoc": "locates objects by name (pydoc.locate reaches any module's internals)", "_greenloop_report": "reaches greenloop's result channel", "_greenloop_unittest": "reaches greenloop's runner",
}
_SUBMODULES = {"xml.etree": None, "xml.dom": None, "unittest.mock": "imports unittest.mock",
               "importlib.metadata": None, "importlib.resources": None}
# Attributes on anything (os._exit, sys.modules, frame.f_back ...).
_ATTRS = {
    "_exit": "exits the process (os._exit)", "abort": "aborts the process", "kill": "sends signals",
    "killpg": "sends signals", "modules": "reads or patches sys.modules (e.g. 'pytest' in sys.modules)",
    "meta_path": "patches the import system", "path_hooks": "patches the import system",
    "settrace": "sets a trace function", "setprofile": "sets a profile function",
    "_getframe": "reads call frames", "_current_frames": "reads call frames",
    "f_back": "reads call frames", "f_locals": "reads call frames", "f_globals": "reads call frames",
    "f_builtins": "reads call frames", "f_code": "reads call frames", "tb_frame": "reads call frames",
    "gi_frame": "reads call frames", "cr_frame": "reads call frames", "ag_frame": "reads call frames",
    "__code__": "replaces function code", "__globals__": "reads function globals",
    "__closure__": "reads closures", "__builtins__": "patches builtins", "__subclasses__": "walks classes",
    "environ": "reads the environment", "environb": "reads the environment", "getenv": "reads the environment",
    "getenvb": "reads the environment", "putenv": "changes the environment", "unsetenv": "changes the environment",
    "argv": "reads the command line (behaves differently under the test runner)",
    "orig_argv": "reads the command line", "excepthook": "patches exception reporting",
    "addaudithook": "adds an audit hook", "stdout": None, "exit": None,
    "skip": "skips tests", "xfail": "marks tests as expected failures", "skipif": "skips tests",
    "importorskip": "skips tests", "SkipTest": "skips tests", "skipTest": "skips tests",
    "expectedFailure": "marks tests as expected failures", "skipIf": "skips tests", "skipUnless": "skips tests",
    "mark": "uses test marks", "dup2": "redirects file descriptors", "closerange": "closes file descriptors",
    "fork": "forks the process", "forkpty": "forks the process",
    "__dict__": "reads or patches a namespace through __dict__ (reaching what a name would not)",
    "__getattribute__": "gets attributes by computed name (__getattribute__)",
    "attrgetter": "gets attributes by computed name (operator.attrgetter)",
    "methodcaller": "calls methods by computed name (operator.methodcaller)",
    "__setattr__": "sets attributes by computed name (__setattr__)",
    "__delattr__": "deletes attributes by computed name (__delattr__)",
    "resolve_name": "resolves objects by name", "get_field": "reads attributes through format fields",
    "Formatter": "reads attributes through format fields (string.Formatter)",
    "path_importer_cache": "patches the import system",
    # What differs between greenloop's sandbox and the user's machine: code that checks it can be
    # right only under greenloop's test run.
    "getuid": "checks which user it runs as", "geteuid": "checks which user it runs as",
    "getgid": "checks which user it runs as", "getegid": "checks which user it runs as",
    "getlogin": "checks which user it runs as", "getuser": "checks which user it runs as",
    "getpwuid": "checks which user it runs as", "gethostname": "checks the machine it runs on",
    "uname": "checks the machine it runs on", "getcwd": "checks the directory it runs in",
    "getcwdb": "checks the directory it runs in", "cwd": "checks the directory it runs in",
    "getppid": "checks its parent process",
}
# Bare names (builtins and names imported bare).
_NAMES = {
    "exit": "exits at import or from library code", "quit": "exits", "_exit": "exits the process",
    "__import__": "imports dynamically", "eval": "evaluates code", "exec": "executes code",
    "compile": "compiles code", "globals": "reads module globals dynamically", "vars": "reads namespaces",
    "breakpoint": "calls the debugger", "environ": "reads the environment", "getenv": "reads the environment",
    "SkipTest": "skips tests", "skip": "skips tests", "xfail": "marks tests as expected failures",
    "__builtins__": "patches builtins",
}
_STRINGS = ("pytest", "junit", "/proc", "unittest", "greenloop", "PYTEST_", "conftest", "__pycache__", ".pyc",
            "site-packages", "sitecustomize")
_DYNAMIC = {"getattr", "setattr", "delattr", "hasattr"}
# Path pieces: `Path("/") / "proc" / "self" / "mem"` has no "/proc" in any one string.
_PROC_PART = re.compile(r"^(proc|mem|environ|maps|kcore|kmem)$|/dev/(fd|mem)")
# A path to the tests (a string that is a path, not prose that mentions one).
_TEST_PATH = re.compile(r"^[\w./\\-]*((^|[/\\])tests?[/\\]|(^|[/\\])test_\w*\.py$|_test\.py$)[\w./\\-]*$")
_EQUALITY = {"__eq__", "__ne__"}
# Deserialisers that run code: `pickle.loads(b"c__builtin__\nexec...")` is exec without the word.
_PICKLERS = {"pickle", "_pickle", "marshal", "shelve", "dill", "cloudpickle"}
_UNPICKLE = {"loads", "load", "Unpickler", "open", "_loads", "_load"}
_ARCHIVE = ("PK\x03\x04", "PK\x05\x06", "PK\x01\x02")
# Files that hold code: written at run time, then imported, they were never screened.
_CODE_FILE = re.compile(r"\.(py|pyw|pth|zip|egg|whl|so|pyd|pyc)$", re.IGNORECASE)


def _call_name(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return ""


class _Finder(ast.NodeVisitor):
    def __init__(self) -> None:
        self.found: list[tuple[str, str]] = []  # (reason, key)
        self.depth = 0  # inside a function or class body: not run at import
        self.called: set[int] = set()  # Name nodes that are what a call calls

    def add(self, reason: str | None, node: ast.AST) -> None:
        if reason:
            self.found.append((reason, ast.unparse(node)[:80]))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        if node.name.startswith("pytest_"):
            self.add(f"defines a pytest hook ({node.name})", node.args)
        if node.name in _EQUALITY:
            # An object equal to anything passes every `assert result == expected`.
            self.add(f"defines {node.name} (an object that compares equal to anything passes any assert)", node.args)
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    visit_AsyncFunctionDef = visit_FunctionDef  # type: ignore[assignment]

    def visit_Lambda(self, node: ast.Lambda) -> None:
        self.depth += 1
        self.generic_visit(node)
        self.depth -= 1

    def visit_Assign(self, node: ast.Assign) -> None:
        for target in node.targets:
            name = target.id if isinstance(target, ast.Name) else target.attr if isinstance(target, ast.Attribute) else ""
            if name in _EQUALITY:
                self.add(f"sets {name} (an object that compares equal to anything passes any assert)", node)
        self.generic_visit(node)

    def _module(self, name: str, node: ast.AST) -> None:
        top = name.split(".")[0]
        reason = _MODULES.get(top)
        last = name.split(".")[-1]
        if any(p in ("tests", "test", "testing", "conftest") for p in name.split(".")) or last.startswith(
                "test_") or last.endswith("_test"):
            reason = "imports the tests (to replace or read them at run time)"
        for sub, why in _SUBMODULES.items():
            if name == sub or name.startswith(sub + "."):
                reason = why
        self.add(reason, node)

    def visit_Import(self, node: ast.Import) -> None:
        for alias in node.names:
            self._module(alias.name, node)

    def visit_ImportFrom(self, node: ast.ImportFrom) -> None:
        if node.module and not node.level:
            self._module(node.module, node)
            for alias in node.names:
                self.add(_ATTRS.get(alias.name) or _NAMES.get(alias.name), node)
                if node.module.split(".")[0] in _PICKLERS and alias.name in _UNPICKLE:
                    self.add(f"loads pickled objects ({node.module}.{alias.name} can run any code)", node)

    def visit_Attribute(self, node: ast.Attribute) -> None:
        self.add(_ATTRS.get(node.attr), node)
        if node.attr == "exit" and self.depth == 0:
            self.add("exits at import (sys.exit)", node)
        owner = node.value.id if isinstance(node.value, ast.Name) else ""
        if owner in _PICKLERS and node.attr in _UNPICKLE:
            self.add(f"loads pickled objects ({owner}.{node.attr} can run any code)", node)
        if owner == "sys" and node.attr == "path":
            self.add("reads or changes sys.path (where modules are imported from)", node)
        self.generic_visit(node)

    def visit_MatchClass(self, node: ast.MatchClass) -> None:
        # `case object(_exit=f)` reads an attribute without an Attribute node.
        for attr in node.kwd_attrs:
            self.add(_ATTRS.get(attr) or (f"matches on {attr}" if attr.startswith("__") else None), node)
        self.generic_visit(node)

    def visit_Name(self, node: ast.Name) -> None:
        self.add(_NAMES.get(node.id), node)
        if node.id in _DYNAMIC and id(node) not in self.called:
            self.add(f"uses {node.id} as a value (an alias hides the names it reaches)", node)
        if node.id == "pytest_plugins":
            self.add("registers pytest plugins (pytest_plugins)", node)

    def visit_Raise(self, node: ast.Raise) -> None:
        if node.exc is not None and _call_name(node.exc.func if isinstance(node.exc, ast.Call) else node.exc) in (
                "SystemExit", "KeyboardInterrupt") and self.depth == 0:
            self.add("exits at import (raise SystemExit)", node)
        self.generic_visit(node)

    def visit_Call(self, node: ast.Call) -> None:
        self.called.add(id(node.func))
        self._pieces(node)
        name = _call_name(node.func)
        if name in _DYNAMIC and len(node.args) >= 2:
            attr = node.args[1]
            if not (isinstance(attr, ast.Constant) and isinstance(attr.value, str)):
                self.add(f"uses {name} with a computed name", node)
            else:
                self.add(_ATTRS.get(attr.value) or (f"uses {name} on {attr.value}" if attr.value.startswith("__")
                                                      else None), node)
        self.generic_visit(node)

    def _pieces(self, node: ast.AST) -> None:
        # 'mod' + 'ules', ''.join(['_green', 'loop_report']): the pieces name nothing, the whole does.
        text = _folded(node)
        if text is not None:
            self._text(text, node)
            if text in _ATTRS or text in _NAMES:
                self.add(f"builds the name {text!r} from pieces", node)

    def visit_BinOp(self, node: ast.BinOp) -> None:
        self._pieces(node)
        self.generic_visit(node)

    def visit_Constant(self, node: ast.Constant) -> None:
        if isinstance(node.value, (str, bytes)):
            self._text(node.value if isinstance(node.value, str) else node.value.decode("latin-1"), node)

    def _text(self, text: str, node: ast.AST) -> None:
        if _CODE_FILE.search(text.strip()):
            self.add("names a file that holds code (written at run time and imported, it is never screened)", node)
        for word in _STRINGS:
            if word.lower() in text.lower():
                self.add(f"names {word!r} in a string (test runner, reports or /proc)", node)
                break
        if _TEST_PATH.search(text):
            self.add("names the tests' files (reading expected values from the tests is not a fix)", node)
        if _PROC_PART.search(text):
            self.add("names /proc or process memory (proc, mem, environ, fd)", node)
        for attribute in _format_fields(text):
            reason = _ATTRS.get(attribute) or _NAMES.get(attribute)
            if reason:
                self.add(f"reaches {attribute!r} through a format field: {reason}", node)


def _format_fields(text: str) -> list[str]:
    """The attribute and key names a `str.format` of `text` would reach (`{0.modules}` -> modules)."""
    if "{" not in text:
        return []
    try:
        fields = [f for _, f, _, _ in string.Formatter().parse(text) if f]
    except ValueError:
        return []
    return [part for field in fields for part in re.split(r"[.\[\]]", field)[1:] if part]


def _folded(node: ast.AST) -> str | None:
    """The string a `+` or a `''.join` of string constants adds up to, or None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "join"
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str)
            and len(node.args) == 1 and isinstance(node.args[0], (ast.List, ast.Tuple))):
        parts = [_folded(e) for e in node.args[0].elts]
        return None if any(p is None for p in parts) else node.func.value.value.join(p for p in parts if p is not None)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = _folded(node.left), _folded(node.right)
        if left is not None and right is not None:
            return left + right
    return None


_TOO_DEEP = ("is nested too deeply to be checked (an expression hundreds of levels deep); write it plainly",
             "<nesting>")


def _findings(source: bytes) -> Counter[tuple[str, str]] | None:
    try:
        tree = ast.parse(source)
        finder = _Finder()
        finder.visit(tree)
    except (SyntaxError, ValueError):
        return None
    except (RecursionError, MemoryError):
        # ast.parse (or the walk) gives up on very deep nesting: refused, not a crash of the run.
        return Counter([_TOO_DEEP])
    return Counter(finder.found)


def screen(original: str | None, new: str) -> list[str]:
    """Why this change to a Python file may not be green (empty when nothing is wrong). Constructs
    the original already had, as often, are the project's own and pass."""
    data = new.encode("utf-8")
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    head = b"\n".join(data.split(b"\n")[:2])
    if b"coding" in head and not any(c in head.lower() for c in (b"utf-8", b"utf8", b"ascii", b"latin-1")):
        return ["declares a source encoding other than UTF-8 (it would hide what the code really says)"]
    now = _findings(data)
    if now is None:
        return []  # it does not parse: it cannot run, and the tests will say so
    before = _findings(original.encode("utf-8")) if original is not None else Counter()
    added = now - (before or Counter())
    reasons: list[str] = []
    for (reason, snippet), _ in sorted(added.items()):
        line = f"{reason}: `{snippet}`"
        if line not in reasons:
            reasons.append(line)
    return reasons[:8]


def screen_all(edits: dict[str, str], original: dict[str, str | None]) -> list[str]:
    """Reasons over every changed Python file, each prefixed with its path."""
    reasons: list[str] = []
    for path in sorted(edits):
        if path.endswith((".py", ".pyw", ".pyi")):
            reasons += [f"{path} {r}" for r in screen(original.get(path), edits[path])]
        elif any(mark in edits[path] for mark in _ARCHIVE) and not any(m in (original.get(path) or "") for m in _ARCHIVE):
            # zipimport reads any file name: `sys.path.insert(0, "data.txt")` imports from a zip.
            reasons.append(f"{path} holds a zip archive (code imported from it is never screened)")
    return reasons
