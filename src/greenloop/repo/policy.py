"""What a candidate may change in the repository.

By default, only the project's source: files under the importable packages (and modules) that the
failing tests reach, new `.py` files beside them, and the files the user named with `--files`.
Everything else is refused with a reason the model reads, unless the user allows it with `--allow
GLOB`: the tests, their helpers and data (anything under the test directories, files the tests
opened at the baseline), the test command's own files (a Makefile and its includes, tox.ini,
noxfile.py, a script it names), every pytest/tox/setuptools configuration format, packaging metadata
(`*.dist-info`, `*.egg-info`, `.pth`), modules that would shadow the standard library or an
installed distribution, dotfiles (CI, editor, `.envrc`, `.gitattributes`, ...). Never allowed, even
with `--allow`: anything named `.git` at any depth, a path through a symlink, secrets-like files.
"""

from __future__ import annotations

import fnmatch
import posixpath
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from greenloop.repo.interpreter import Interpreter

_TEST_DIRS = ("tests", "test", "testing")
# greenloop's own module names in the test process (the report plugin, the unittest runner):
# a file of that name could stand in for them.
_RESERVED = re.compile(r"^_(greenloop\w*|gl[0-9a-f]{16}\w*)$")
_CONFIG = {
    "pytest.ini", ".pytest.ini", "pytest.toml", ".pytest.toml", "pyproject.toml", "tox.ini", "setup.cfg",
    "setup.py", "noxfile.py", "conftest.py", "Makefile", "makefile", "GNUmakefile", "MANIFEST.in",
    "requirements.txt", "Pipfile", "Pipfile.lock", "poetry.lock", "uv.lock", "Jenkinsfile", "azure-pipelines.yml",
    "appveyor.yml", "bitbucket-pipelines.yml", "Dockerfile", "justfile", "Justfile", "pdm.lock",
}
_SECRETS = (".env", ".env.*", "*.env", "*.pem", "*.key", "*.p12", "*.pfx", "*.jks", "*.keystore", "id_rsa*",
            "id_dsa*", "id_ecdsa*", "id_ed25519*", ".netrc", ".pypirc", ".npmrc", ".git-credentials",
            "credentials*", "*secret*", "*.kdbx", "*_key", "*-key", "*.gpg", ".htpasswd")


def secret_like(path: str) -> bool:
    """Files that look like they hold credentials: never copied, shown or stored."""
    name = posixpath.basename(path).lower()
    if name.endswith((".py", ".pyi")) and "secret" not in name:
        return False
    return any(fnmatch.fnmatch(name, pattern) for pattern in _SECRETS) or (
        "key" in name and not name.endswith((".py", ".pyi", ".md", ".rst")))


def looks_like_test(path: str) -> bool:
    parts = path.split("/")
    name = parts[-1]
    return (any(p in _TEST_DIRS for p in parts[:-1]) or fnmatch.fnmatch(name, "test_*.py")
            or fnmatch.fnmatch(name, "*_test.py") or fnmatch.fnmatch(name, "tests.py"))


def never(path: str, is_link: Callable[[str], bool]) -> str | None:
    """Why a path may never be written, whatever the user allows."""
    parts = path.split("/")
    if path.startswith(("/", "~")) or ".." in parts or not path:
        return f"{path} is outside the repository"
    dot_git_ok = (".github", ".gitlab", ".gitattributes", ".gitlab-ci.yml", ".gitmodules", ".gitignore")
    if any(p.lower() == ".git" or (p.lower().startswith(".git") and p.lower() not in dot_git_ok) for p in parts):
        return f"{path} is git's own data (a .git at any depth could run commands the next time you use git)"
    for i in range(1, len(parts) + 1):
        if is_link("/".join(parts[:i])):
            return f"{path} goes through a symlink ({'/'.join(parts[:i])}); symlinks are never written or followed"
    if secret_like(path):
        return f"{path} looks like it holds secrets; it is never copied or written"
    return None


@dataclass
class Policy:
    """Callable: the reason a path may not be changed, or None. Built once the baseline has run."""

    allowed_dirs: set[str] = field(default_factory=set)  # package directories the failing tests reach
    allowed_files: set[str] = field(default_factory=set)  # single-file modules, --files
    tests: set[str] = field(default_factory=set)  # collected test files, files named by the command
    test_dirs: set[str] = field(default_factory=set)
    data: set[str] = field(default_factory=set)  # files the tests opened at the baseline
    command_files: set[str] = field(default_factory=set)  # Makefile includes, scripts
    allow: tuple[str, ...] = ()  # --allow globs
    interpreter: Interpreter | None = None
    exists: Callable[[str], bool] = lambda p: False
    is_link: Callable[[str], bool] = lambda p: False

    def __call__(self, path: str) -> str | None:
        hard = never(path, self.is_link)
        if hard:
            return hard
        if self.allowed(path):
            return None
        reason = self.protected(path)
        if reason:
            return reason + "; change the code under test instead (or run greenloop with --allow GLOB)"
        if self.reachable(path):
            return None
        where = ", ".join(sorted(self.allowed_dirs | self.allowed_files)) or "none found"
        return (f"{path} is not part of the code the failing tests reach (editable: {where}); pass "
                "--files or --allow GLOB to let a fix change it")

    def allowed(self, path: str) -> bool:
        """Whether the user's --allow globs name this path."""
        return any(fnmatch.fnmatch(path, glob) or path.startswith(glob.rstrip("/") + "/") for glob in self.allow)

    def protected(self, path: str) -> str | None:
        parts = path.split("/")
        name = parts[-1]
        if path in self.tests:
            return f"{path} holds tests the command runs"
        if path in self.command_files:
            return f"{path} is part of the test command"
        if path in self.data:
            return f"{path} is test data (the tests read it)"
        if any(path.startswith(d.rstrip("/") + "/") for d in self.test_dirs if d) or looks_like_test(path):
            return f"{path} is a test file or test helper"
        if name in _CONFIG or name.endswith(".mk") or name.startswith("requirements"):
            return f"{path} configures the project, its tests or its build"
        if any(p.endswith((".dist-info", ".egg-info", ".egg")) for p in parts) or name.endswith(
                (".pth", ".pyc", ".pyo", ".so", ".pyd", ".dll", ".dylib")) or "__pycache__" in parts:
            return f"{path} is packaging metadata or compiled code"
        if name.lower().endswith((".zip", ".egg", ".whl", ".pyz", ".jar", ".tar", ".tgz", ".gz", ".bz2", ".xz")):
            return f"{path} is an archive (Python imports code from archives, and code in one is never screened)"
        if any(p.startswith(".") for p in parts):
            return f"{path} is a dotfile (CI, editor, environment or git configuration)"
        if name in ("sitecustomize.py", "usercustomize.py", "__main__.py") and not self.exists(path):
            return f"{path} would run at interpreter start or as a program"
        if any(_RESERVED.match(p.split(".")[0]) for p in parts):
            return f"{path} takes a name greenloop reserves for its own modules (its test-run plugin)"
        if not self.exists(path) and name.endswith(".py"):
            module = name[:-3]
            if module == "__init__":
                module = parts[-2] if len(parts) > 1 else ""
            why = self.interpreter.shadows(module) if self.interpreter and module else None
            if why is None and module in ("pytest", "unittest", "_pytest", "pluggy", "conftest"):
                why = f"{module} is the test framework"
            if why:
                return f"a new {path} would shadow a module ({why})"
        return None

    def readonly(self, files: Iterable[str], limit: int = 1500) -> list[str]:
        """What the sandbox shows read-only over the copy: every protected file (tests, test data,
        configuration, the command's files), one by one, so tests may still create files beside them;
        past `limit` files, the test directories whole."""
        found = sorted(p for p in files if self.protected(p) and not never(p, self.is_link))
        if len(found) <= limit:
            return found
        dirs = sorted(d for d in self.test_dirs if d)
        outer = [d for d in dirs if not any(d.startswith(o + "/") for o in dirs if o != d)]
        return outer + [p for p in found if not any(p.startswith(d + "/") for d in outer)]

    def reachable(self, path: str) -> bool:
        if path in self.allowed_files:
            return True
        directory = posixpath.dirname(path)
        if any(path.startswith(d.rstrip("/") + "/") for d in self.allowed_dirs if d):
            return True
        # New modules beside a single-file module the tests reach.
        return path.endswith(".py") and not self.exists(path) and any(
            posixpath.dirname(f) == directory for f in self.allowed_files if f.endswith(".py"))


def package_root(path: str, exists: Callable[[str], bool]) -> str:
    """The top package directory holding a module (walking up through `__init__.py`), or the module
    file itself when it is not in a package."""
    directory = posixpath.dirname(path)
    if not exists(posixpath.join(directory, "__init__.py")) or not directory:
        return path
    while True:
        parent = posixpath.dirname(directory)
        if not parent or not exists(posixpath.join(parent, "__init__.py")):
            return directory + "/"
        directory = parent


def roots(modules: Iterable[str], exists: Callable[[str], bool]) -> tuple[set[str], set[str]]:
    """(package directories, single-file modules) holding these repository files."""
    dirs: set[str] = set()
    files: set[str] = set()
    for path in modules:
        root = package_root(path, exists)
        if root.endswith("/"):
            dirs.add(root[:-1])
        else:
            files.add(root)
    return dirs, files


def makefile_includes(text: str) -> list[str]:
    """The files a Makefile includes (`include a.mk b.mk`, `-include x.mk`)."""
    found: list[str] = []
    for line in text.splitlines():
        words = line.split()
        if words and words[0] in ("include", "-include", "sinclude"):
            found.extend(w for w in words[1:] if "$" not in w)
    return found
