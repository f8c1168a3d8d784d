"""`fix` as a Problem: a candidate is a set of edited files of a repository, run as the test command.

The engine (loop/engine.py) drives it as it drives `solve`: budgets, strategies, dedupe, recording
and the clean re-run all live there. What is particular to a repository lives here:

- `prepare` snapshots the repository into a private copy, runs the command once (the baseline,
  attempt 0) and decides what a change may touch (repo/reach.py).
- A request shows the failure and the code the failing tracebacks pass through (repo/context.py),
  in one of two edit formats; a reply becomes a `Change` (its edits merged onto its parent's), or
  an attempt that says why not: an edit error, a screened change (repo/screen.py), or the model's
  SHOW/FIND request, answered in its next prompt.
- A change runs in a private copy (reset to the snapshot first; `--workers N` keeps N copies, so N
  changes run at once); its stored form is its diff.
- Verification re-runs it with the tests restored from the snapshot in a fresh copy and sandbox.
- Mutants edit, in place, the lines the failing tracebacks touched in files a change may edit.

The user's tree is written only afterwards, by repo/apply.py, and only for a verified green.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from greenloop.execute import Outcome
from greenloop.loop.extract import normalise
from greenloop.loop.problem import Attempt, Repair, Reply
from greenloop.loop.repair import mutants
from greenloop.models import Message, Model, PromptStyle, capabilities_of
from greenloop.repo.command import Collection, TestCommand, baseline, execute, install_plugin
from greenloop.repo.context import Context, Finder, gather, tokens
from greenloop.repo.diagnose import missing_module, missing_variable
from greenloop.repo.edits import apply_reply
from greenloop.repo.interpreter import Interpreter
from greenloop.repo.localise import function_lines, traceback_lines
from greenloop.repo.options import FixOptions
from greenloop.repo.policy import Policy, secret_like
from greenloop.repo.prompts import EditFormat, messages, render_outcome
from greenloop.repo.reach import build_policy, command_paths, conflict_markers
from greenloop.repo.repomap import repo_map
from greenloop.repo.requests import answer
from greenloop.repo.requests import parse as parse_requests
from greenloop.repo.sandboxed import Runner
from greenloop.repo.screen import screen_all
from greenloop.repo.usertree import check_state
from greenloop.repo.workspace import GitError, RepoError, RepoInfo, Scratch


@dataclass(frozen=True)
class Change:
    """A repo-mode candidate: the whole new text of each file it changes (relative to the snapshot),
    what of the reply was refused, and what the edit parser had to do to apply it."""

    edits: dict[str, str] = field(default_factory=dict)
    refused: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


class RepoProblem:
    """One `greenloop fix` run over a private copy of the repository (`prepare` first, `close` after)."""

    kind = "fix"
    stop: tuple[str, ...] = ()  # a diff-format reply holds several blocks

    def __init__(self, info: RepoInfo, command: TestCommand, model: Model, options: FixOptions,
                 interpreter: Interpreter) -> None:
        self.info, self.command, self.model, self.options = info, command, model, options
        self.interpreter = interpreter
        self.python = interpreter.describe()
        self.format: EditFormat = (options.edit_format if options.edit_format != "auto"
                                   else "whole" if capabilities_of(model).prompt_style == "examples" else "diff")
        self.max_tokens = 768 if self.format == "whole" else 2048
        self.scratch = Scratch(info)
        self.runner = Runner(info.root, info.cwd, options.limits, interpreter, self.scratch.plugin_dir(), options.env)
        self.collection = Collection()
        self.protect = Policy()
        self.outcome: Outcome | None = None  # the baseline's
        self.editable: list[str] = []  # source files a fix may change (for the repository map)
        self.snapshot: list[str] = []  # every file of the snapshot
        self.answers: dict[int, str] = {}  # parent n -> the answer to the model's SHOW/FIND requests
        self.errors: dict[int, str] = {}  # parent n -> why the last reply built on it could not be applied
        self.contexts: dict[int, Context] = {}  # parent n -> what its last request showed
        self.context: tuple[str, ...] = ()
        self._diffs: dict[str, str] = {"": ""}  # key -> diff, made while the copy holds the change
        # Candidates run in copies 1..workers of the snapshot (copy 0, the baseline's, stays as it is:
        # the policy reads it), one candidate per copy at a time.
        self._copies: queue.SimpleQueue[int] = queue.SimpleQueue()
        for k in range(1, options.workers + 1):
            self._copies.put(k)
        self.roots = (str(info.root), *(str(self.scratch.copy_dir(k)) for k in range(options.workers + 1)))
        # The clean re-run runs alone: candidates share the sandbox's uid, so one still running could
        # take the processes (or CPU) the re-run needs and fail a right change.
        self._turns = threading.Condition()
        self._running = 0
        self._verifying = False

    def prepare(self) -> None:
        """Snapshot, collect, run the baseline and decide what may change; raises RepoError or
        CommandError for bad input or a failure no code change can fix (nothing recorded yet)."""
        check_state(self.info, self.options.commit)
        self.scratch.snapshot()
        install_plugin(self.scratch.plugin_dir())
        self.collection, outcome = baseline(self.command, self.runner, self.scratch.work)
        if outcome.infrastructure:
            raise RuntimeError(f"the sandbox failed: {outcome.problem}")
        self.outcome = outcome
        snapshot = self.scratch.files()
        known = set(snapshot)
        read = self._read({})

        def in_repo(module: str) -> bool:
            return any(f"{base}{module}{end}" in known for base in ("", "src/") for end in (".py", "/__init__.py"))

        if not outcome.green:
            why = missing_module(outcome, self.interpreter, in_repo) or missing_variable(outcome, set(self.options.env))
            if why:
                raise RepoError(why)
        is_dir = lambda p: p == "" or any(k.startswith(p.rstrip("/") + "/") for k in known)  # noqa: E731
        named = command_paths(self.command.path_args(), self.info.cwd, lambda p: p in known or is_dir(p))
        self.protect = build_policy(
            outcome=outcome, test_files=self.collection.files, named=named, opened=self.collection.opened,
            files=list(self.options.files), snapshot=snapshot, read=read, cwd=self.info.cwd,
            where=(str(self.info.root), str(self.scratch.work)), args=self.command.path_args(), allow=self.options.allow,
            interpreter=self.interpreter, is_link=self.scratch.is_link, program=self.command.argv[0])
        self.editable = [p for p in snapshot if p.endswith(".py") and not self.protect(p)]
        self.snapshot = snapshot
        self.runner.readonly = self.protect.readonly(snapshot)
        marked = conflict_markers(self.editable, read)
        if marked:
            raise RepoError(f"{marked} holds git conflict markers (<<<<<<< ... >>>>>>>); resolve them first")

    def close(self) -> None:
        self.scratch.close()

    # -- what the engine asks ---------------------------------------------------------------------

    def run_fields(self) -> dict[str, Any]:
        return {"tests_path": self.command.display(), "target": str(self.info.root), "spec": self.options.message,
                "python": self.python}

    def expected_ids(self) -> list[str]:
        return list(self.collection.ids)

    def baseline(self) -> tuple[Change, Outcome]:
        assert self.outcome is not None, "prepare() first"
        return Change(), self.outcome

    def first_messages(self, style: PromptStyle) -> list[Message]:
        assert self.outcome is not None, "prepare() first"
        return self._messages(0, Change(), self.outcome, self.feedback(Change(), self.outcome))

    def revision_messages(self, style: PromptStyle, parent: Attempt) -> list[Message]:
        change = parent.candidate if isinstance(parent.candidate, Change) else Change()
        if parent.outcome is None:
            return self.first_messages(style)
        return self._messages(parent.n, change, parent.outcome, parent.feedback)

    def examples_messages(self, style: PromptStyle, examples: list[tuple[str, str]]) -> list[Message]:
        return self.first_messages(style)  # a repository's tests are not one call each

    def test_cases(self) -> dict[str, tuple[str, str]]:
        return {}

    def parse(self, text: str, parent: Attempt | None) -> Reply:
        n = parent.n if parent is not None else 0
        base = parent.candidate if parent is not None and isinstance(parent.candidate, Change) else Change()
        requested = parse_requests(text) if self.format == "diff" else []
        if requested:  # the model asks to see a file or find a definition: answered, no test run
            self.answers[n] = answer(requested, self._read(base.edits), self.snapshot, secret_like)
            return Reply(None, "request", parent.feedback if parent is not None else "")
        context = self.contexts.get(n) or self._gather(base, self.outcome or Outcome(()))
        edit = apply_reply(text, read=self._read(base.edits), protect=self.protect,
                           editable=[f.path for f in context.files],
                           keep=context.wanted() if self.format == "whole" else None)
        for path in [p for p in edit.changes if self.protect(p) or self.scratch.unwritable(p)]:  # every path
            edit.refused.append(self.protect(path) or self.scratch.unwritable(path) or path)
            del edit.changes[path]
        edits = self._changed(base, edit.changes)
        edit.errors += [why for p in edit.changes if (why := self._unwritable_path(p, edits))]
        tampering = self._tampering(edits)
        if tampering and not edit.errors and edit.changes:
            why = ("- not eligible for green: the change does what a fix must never do in code under test:\n"
                   + "\n".join(f"  - {t}" for t in tampering) + "\n- fix the code itself; do not touch the "
                   "test run, the process, the environment or the test framework")
            edit.errors.append(why.removeprefix("- "))
        if edit.errors or not edit.changes:
            why = edit.feedback() or "- the reply changes nothing"
            self.errors[n] = why
            return Reply(None, "screened" if tampering else "edit-error", why)
        self.errors.pop(n, None)
        return Reply(Change(edits, tuple(edit.refused), tuple(edit.notes)))

    def execute(self, candidate: Change) -> Outcome:
        with self._turns:
            self._turns.wait_for(lambda: not self._verifying)
            self._running += 1
        k = self._copies.get()  # the engine runs at most `workers` at once: one is free
        copy = self.scratch.copy_dir(k)
        try:
            try:
                diff = self.scratch.prepare(candidate.edits, k)
            except GitError as exc:
                return Outcome((), 0.0, f"git failed in the private copy: {exc}", infrastructure=True)
            except OSError as exc:  # a path the filesystem refuses that `parse` did not foresee
                where = str(exc.filename or "").replace(str(copy) + "/", "")
                return Outcome((), 0.0, f"the change could not be written: {exc.strerror or exc}: {where}")
            self._diffs[self.key(candidate)] = diff
            try:
                return execute(self.command, self.runner, copy, self.collection, watch=self._data(candidate))
            except (GitError, OSError) as exc:
                return Outcome((), 0.0, f"the test command could not be run: {exc}", infrastructure=True)
        finally:
            self._copies.put(k)
            with self._turns:
                self._running -= 1
                self._turns.notify_all()

    def verify(self, candidate: Change) -> Outcome:
        """Re-run with the tests restored from the snapshot, in a fresh copy and a fresh sandbox; the
        copy must differ from the snapshot in exactly the candidate's paths."""
        edits = candidate.edits
        allowed = {p: t for p, t in edits.items() if not self.protect(p)}
        with self._turns:
            self._verifying = True
            self._turns.wait_for(lambda: self._running == 0)
        try:
            try:
                fresh = self.scratch.fresh(allowed)
                changed = self.scratch.changed(fresh)
                if changed != sorted(allowed) or len(allowed) != len(edits):
                    return Outcome((), 0.0, f"the verified copy changes {', '.join(changed) or 'nothing'}, not what "
                                   f"the candidate changes ({', '.join(sorted(edits))})")
                return execute(self.command, self.runner, fresh, self.collection, watch=self._data(candidate))
            except (GitError, OSError) as exc:
                return Outcome((), 0.0, f"the clean copy could not be made or run: {exc}", infrastructure=True)
        finally:
            with self._turns:
                self._verifying = False
                self._turns.notify_all()

    def key(self, candidate: Change) -> str:
        return "\0".join(f"{p}\0{normalise(t) if p.endswith('.py') else t}" for p, t in sorted(candidate.edits.items()))

    def stored(self, candidate: Change) -> str:
        return self._diffs.get(self.key(candidate), "")

    def feedback(self, candidate: Change, outcome: Outcome) -> str:
        applied = "Applied: " + "; ".join(candidate.notes) + "\n" if candidate.notes else ""
        refused = "".join(f"Refused: {r}\n" for r in candidate.refused)
        failure = "" if outcome.green else render_outcome(outcome, self.command.display(), self._feedback_limit())
        return applied + refused + failure

    def renames(self, node: Attempt) -> list[Repair]:
        return []  # a repository's tests import what exists: nothing to rename

    def mutants(self, node: Attempt, limit: int) -> list[Repair]:
        """Single edits, in place, in files a change may edit: on the lines the failing tracebacks
        passed through first, then in the functions the failing tests call (repo/localise.py)."""
        change = node.candidate if isinstance(node.candidate, Change) else Change()
        if node.outcome is None or limit < 1:
            return []
        read = self._read(change.edits)
        finder = Finder(read, self.info.cwd, self.roots)
        editable = set(self.editable) | {p for p in change.edits if p.endswith(".py")}
        context = self.contexts.get(node.n) or self._gather(change, node.outcome)
        shown = [f.path for f in context.files if f.path in editable]
        places = [traceback_lines(node.outcome, finder, editable),
                  function_lines(shown, read, context.wanted() | {n for f in context.files for n in f.names})]
        found: list[Repair] = []
        seen: set[tuple[str, str]] = set()
        for lines in places:
            for path, focus in lines.items():
                text = read(path)
                if text is None or len(found) >= limit:
                    continue
                for m in mutants(text, limit=limit - len(found), focus_lines=frozenset(focus), in_place=True):
                    if (path, m.code) in seen:
                        continue
                    seen.add((path, m.code))
                    edits = self._changed(change, {path: m.code})
                    if self._tampering(edits):
                        continue  # screened like a model's change (a single edit should never be)
                    found.append(Repair(Change(edits), f"local repair of attempt {node.n}: {path} {m.description}"))
        return found[:limit]

    # -- helpers ----------------------------------------------------------------------------------

    def _changed(self, base: Change, changes: dict[str, str]) -> dict[str, str]:
        """`base`'s edits with `changes` over them, less any file that is back to the snapshot's text."""
        return {p: t for p, t in {**base.edits, **changes}.items() if t != self.scratch.original(p)}

    def _tampering(self, edits: dict[str, str]) -> list[str]:
        return screen_all(edits, {p: self.scratch.original(p) for p in edits})

    def _unwritable_path(self, path: str, edits: dict[str, str]) -> str:
        """Why the filesystem would refuse to write `path` (checked before anything runs), or ""."""
        if any(len(part.encode()) > 255 for part in path.split("/")):
            return f"{path}: a name in this path is longer than a filesystem allows"
        parts = path.split("/")
        for i in range(1, len(parts)):
            above = "/".join(parts[:i])
            if above in edits or self.scratch.original(above) is not None:
                return f"{path}: {above} is a file, not a directory"
        prefix = path.rstrip("/") + "/"
        if any(p.startswith(prefix) for p in self.snapshot) or any(p.startswith(prefix) for p in edits):
            return f"{path} is a directory; a change can only write files"
        return ""

    def _read(self, edits: dict[str, str]) -> Callable[[str], str | None]:
        return lambda path: edits[path] if path in edits else self.scratch.original(path)

    def _data(self, candidate: Change) -> list[str]:
        """Changed files that are not code: if the tests open one, it is test data, whenever they open it."""
        return [p for p in candidate.edits if not p.endswith((".py", ".pyi", ".pyw")) and not self.protect.allowed(p)]

    def _feedback_limit(self) -> int:
        return 1500 if self.format == "whole" else 5000

    def _gather(self, change: Change, outcome: Outcome, failure: str = "") -> Context:
        budget = self.options.context_tokens
        if budget is None:
            # What the model declares it can read, less the reply, the failure and the prompt's frame.
            budget = min(12_000, capabilities_of(self.model).context - self.max_tokens - tokens(failure) - 350)
        return gather(outcome, read=self._read(change.edits), protect=self.protect, files=list(self.options.files),
                      cwd=self.info.cwd, roots=self.roots, budget=budget,
                      single=self.format == "whole", candidates=self.editable)

    def _map(self, context: Context) -> str:
        """The repository map, for models that can use it (not the small model's one-file format)."""
        if self.format == "whole":
            return ""
        budget = min(1500, (self.options.context_tokens or 12_000) // 6)
        return repo_map(self.editable, self.scratch.original, shown=[f.path for f in context.files],
                        names=context.wanted(), budget=budget)

    def _messages(self, n: int, change: Change, outcome: Outcome, failure: str) -> list[Message]:
        # An attempt's code and failure do not change: every request built on it shows the same context.
        context = self.contexts.get(n) or self._gather(change, outcome, failure)
        self.contexts[n] = context
        self.context = tuple(context.labels())
        return messages(self.command.display(), failure, context, self.format, self.errors.get(n, ""),
                        task=self.options.message, repo_map=self._map(context), answered=self.answers.get(n, ""))
