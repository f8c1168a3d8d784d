"""The repo-mode loop: propose edits, run the test command in the private copy, revise, until green.

Like the `solve` engine it owns budgets, stopping and recording, and how a run ended is data
(`RunStatus`). A candidate is the set of files it changes (whole texts, relative to the snapshot);
each attempt's diff is stored, so `greenloop show RUN --diff` can print the best one whatever
happened to this process. The user's tree is written only after a green candidate passed a clean
re-run (tests restored from the snapshot) in a fresh copy and a fresh sandbox.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

from greenloop.execute import Outcome
from greenloop.loop.extract import normalise
from greenloop.loop.result import RunStatus
from greenloop.models import Model, ModelError, ScriptExhausted, capabilities_of
from greenloop.repo.apply import apply_green
from greenloop.repo.command import Collection, TestCommand, baseline, execute, install_plugin
from greenloop.repo.context import Context, gather, tokens
from greenloop.repo.diagnose import missing_module, missing_variable
from greenloop.repo.edits import apply_reply
from greenloop.repo.interpreter import Interpreter
from greenloop.repo.options import FixOptions, FixProgress, FixResult, plural
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
from greenloop.store import AttemptRecord, Store


@dataclass
class _Candidate:
    n: int
    edits: dict[str, str]
    outcome: Outcome
    feedback: str
    diff: str = ""
    record_id: int | None = None

    @property
    def passed(self) -> int:
        return self.outcome.passed


class Fixer:
    """One `greenloop fix` run over a prepared private copy."""

    def __init__(self, info: RepoInfo, command: TestCommand, model: Model, options: FixOptions,
                 interpreter: Interpreter, on_progress: Callable[[FixProgress], None] | None = None) -> None:
        self.info, self.command, self.model, self.options = info, command, model, options
        self.interpreter = interpreter
        self.on_progress = on_progress
        self.format: EditFormat = (options.edit_format if options.edit_format != "auto"
                                   else "whole" if model.prompt_style == "examples" else "diff")
        self.max_tokens = 768 if self.format == "whole" else 2048
        self.scratch = Scratch(info)
        self.runner = Runner(info.root, info.cwd, options.limits, interpreter, self.scratch.plugin_dir(),
                             options.env)
        self.collection = Collection()
        self.protect = Policy()
        self.baseline: Outcome | None = None
        self.editable: list[str] = []  # source files a fix may change (for the repository map)
        self.snapshot: list[str] = []  # every file of the snapshot
        self.answers: dict[int, str] = {}  # parent n -> the answer to the model's SHOW/FIND requests
        self.candidates: list[_Candidate] = []
        self.errors: dict[int, str] = {}  # parent n -> why the last reply built on it could not be applied
        self.context: list[str] = []

    def prepare(self) -> None:
        """Snapshot, collect, run the baseline and decide what may change; raises RepoError or
        CommandError for bad input or a failure no code change can fix (nothing recorded yet)."""
        check_state(self.info, self.options.commit)
        self.scratch.snapshot()
        install_plugin(self.scratch.plugin_dir())
        work = self.scratch.work
        self.collection, outcome = baseline(self.command, self.runner, work)
        if outcome.infrastructure:
            raise RuntimeError(f"the sandbox failed: {outcome.problem}")
        self.baseline = outcome
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
            where=(str(self.info.root), str(work)), args=self.command.path_args(), allow=self.options.allow,
            interpreter=self.interpreter, is_link=self.scratch.is_link, program=self.command.argv[0])
        self.editable = [p for p in snapshot if p.endswith(".py") and not self.protect(p)]
        self.snapshot = snapshot
        self.runner.readonly = self.protect.readonly(snapshot)
        marked = conflict_markers(self.editable, read)
        if marked:
            raise RepoError(f"{marked} holds git conflict markers (<<<<<<< ... >>>>>>>); resolve them first")

    def close(self) -> None:
        self.scratch.close()

    def _read(self, edits: dict[str, str]) -> Callable[[str], str | None]:
        return lambda path: edits[path] if path in edits else self.scratch.original(path)

    def _run(self, edits: dict[str, str]) -> tuple[Outcome, str]:
        diff = self.scratch.prepare(edits)
        return execute(self.command, self.runner, self.scratch.work, self.collection, watch=self._data(edits)), diff

    def _data(self, edits: dict[str, str]) -> list[str]:
        """Changed files that are not code: if the tests open one, it is test data, whenever they open it."""
        return [p for p in edits if not p.endswith((".py", ".pyi", ".pyw")) and not self.protect.allowed(p)]

    def _feedback_limit(self) -> int:
        return 1500 if self.format == "whole" else 5000

    def run(self, store: Store) -> FixResult:
        budget = self.options.budget
        run_id = store.start_run(kind="fix", tests_path=self.command.display(), target=str(self.info.root),
                                 spec=self.options.message, model=self.model.name, strategy=f"repo-{self.format}",
                                 budget=asdict(budget), python=self.interpreter.describe())
        result = FixResult(run_id, RunStatus.EXHAUSTED, "", str(self.info.root), self.command.display(),
                           python=self.interpreter.describe())
        started = time.monotonic()
        green: _Candidate | None = None
        try:
            assert self.baseline is not None, "prepare() first"
            outcome = self.baseline
            feedback = "" if outcome.green else render_outcome(outcome, self.command.display(), self._feedback_limit())
            baseline = _Candidate(0, {}, outcome, feedback)
            self._record(store, result, baseline, "baseline", [], "", outcome=outcome)
            self.candidates.append(baseline)
            result.tests_total = max(outcome.total, len(self.collection.ids))
            self._report(result, started)
            if outcome.green:
                result.status, result.message = RunStatus.GREEN, "the test command already passes; nothing to change"
            else:
                result.status, result.message, green = self._loop(store, result, started)
            if green is not None:
                apply_green(self, result, green.edits, green.diff)
        except KeyboardInterrupt:
            result.status, result.message = RunStatus.INTERRUPTED, "interrupted by the user"
        except ModelError as exc:
            result.status, result.message = RunStatus.ERROR, str(exc)
        except (RuntimeError, GitError, OSError) as exc:
            result.status, result.message = RunStatus.ERROR, str(exc)
        except Exception as exc:  # a bug of ours: record it, leave the tree alone, and let it show
            result.status, result.message = RunStatus.ERROR, f"greenloop failed: {exc!r}"
            raise
        finally:
            result.seconds = time.monotonic() - started
            result.context_files = list(self.context)
            best = green or self._best()
            if best is not None and best.n > 0:
                result.best_attempt, result.diff = best.record_id, best.diff
                result.changed_files = sorted(best.edits)
                result.tests_passed = best.passed
            elif self.candidates:
                best = self.candidates[0]
                result.tests_passed = best.passed
            if best is not None and best.outcome.green:
                result.tests_total = best.outcome.total  # skipped tests are known now, and not counted
            store.update_run(
                run_id, status=result.status.value, message=result.message, attempts=result.attempts,
                model_calls=result.model_calls, tests_passed=result.tests_passed, tests_total=result.tests_total,
                prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens, seconds=result.seconds,
                model_seconds=result.model_seconds, best_attempt=result.best_attempt, finished=time.time(),
            )
        return result

    def _best(self) -> _Candidate | None:
        tried = [c for c in self.candidates if c.n > 0]
        return max(tried, key=lambda c: (c.passed, -c.n)) if tried else None

    def _choose(self, iteration: int) -> tuple[_Candidate, float]:
        """Revise the best candidate; while that stops paying, alternate with fresh starts from the
        original (a weak model revising its own wrong edit mostly reproduces it)."""
        baseline = self.candidates[0]
        best = self._best()
        if best is None or best.passed <= baseline.passed:
            return baseline, min(1.0, 0.3 + 0.1 * iteration)
        stagnant = iteration - best.n
        if stagnant % 2 == 1:
            return baseline, 0.8
        return best, min(1.0, 0.6 + 0.1 * min(stagnant // 2, 4))

    def _gather(self, parent: _Candidate, failure: str) -> Context:
        budget = self.options.context_tokens
        if budget is None:
            # What the model declares it can read, less the reply, the failure and the prompt's frame.
            budget = min(12_000, capabilities_of(self.model).context - self.max_tokens - tokens(failure) - 350)
        return gather(parent.outcome, read=self._read(parent.edits), protect=self.protect, files=list(self.options.files),
                      cwd=self.info.cwd, roots=(str(self.info.root), str(self.scratch.work)), budget=budget,
                      single=self.format == "whole", candidates=self.editable)

    def _map(self, context: Context) -> str:
        """The repository map, for models that can use it (not the small model's one-file format)."""
        if self.format == "whole":
            return ""
        budget = min(1500, (self.options.context_tokens or 12_000) // 6)
        return repo_map(self.editable, self.scratch.original, shown=[f.path for f in context.files],
                        names=context.wanted(), budget=budget)

    def _loop(self, store: Store, result: FixResult, started: float) -> tuple[RunStatus, str, _Candidate | None]:
        budget = self.options.budget
        seen: dict[tuple[tuple[str, str], ...], _Candidate] = {(): self.candidates[0]}
        while True:
            if result.attempts >= budget.max_calls:
                return RunStatus.EXHAUSTED, f"no green attempt after {plural(result.attempts, 'model call')}", None
            if time.monotonic() - started >= budget.max_seconds:
                return RunStatus.EXHAUSTED, f"no green attempt within {budget.max_seconds:g}s", None
            parent, temperature = self._choose(result.attempts)
            context = self._gather(parent, parent.feedback)
            self.context = context.labels()
            msgs = messages(self.command.display(), parent.feedback, context, self.format,
                            self.errors.get(parent.n, ""), task=self.options.message, repo_map=self._map(context),
                            answered=self.answers.get(parent.n, ""))
            try:
                completion = self.model.complete(msgs, temperature=temperature, max_tokens=self.max_tokens,
                                                 seed=self.options.seed + result.attempts)
            except ScriptExhausted as exc:
                return RunStatus.EXHAUSTED, str(exc), None
            result.attempts += 1
            result.model_calls += 1
            usage = completion.usage
            result.prompt_tokens += usage.prompt_tokens
            result.completion_tokens += usage.completion_tokens
            result.model_seconds += usage.seconds
            requested = parse_requests(completion.text) if self.format == "diff" else []
            if requested:  # the model asks to see a file or find a definition: answered, no test run
                self.answers[parent.n] = answer(requested, self._read(parent.edits), self.snapshot, secret_like)
                attempt = _Candidate(result.attempts, parent.edits, parent.outcome, parent.feedback)
                self._record(store, result, attempt, "request", msgs, completion.text, parent=parent.n,
                             usage=(usage.prompt_tokens, usage.completion_tokens, usage.seconds))
                self._report(result, started)
                continue
            edit = apply_reply(completion.text, read=self._read(parent.edits), protect=self.protect,
                               editable=[f.path for f in context.files],
                               keep=context.wanted() if self.format == "whole" else None)
            for path in [p for p in edit.changes if self.protect(p) or self.scratch.unwritable(p)]:  # every path
                edit.refused.append(self.protect(path) or self.scratch.unwritable(path) or path)
                del edit.changes[path]
            edits = {p: t for p, t in {**parent.edits, **edit.changes}.items() if t != self.scratch.original(p)}
            tampering = screen_all(edits, {p: self.scratch.original(p) for p in edits})
            if tampering and not edit.errors and edit.changes:
                why = ("- not eligible for green: the change does what a fix must never do in code under test:\n"
                       + "\n".join(f"  - {t}" for t in tampering) + "\n- fix the code itself; do not touch the "
                       "test run, the process, the environment or the test framework")
                edit.errors.append(why.removeprefix("- "))
            if edit.errors or not edit.changes:
                why = edit.feedback() or "- the reply changes nothing"
                self.errors[parent.n] = why
                attempt = _Candidate(result.attempts, parent.edits, parent.outcome, why)
                self._record(store, result, attempt, "screened" if tampering else "edit-error", msgs, completion.text, parent=parent.n,
                             usage=(usage.prompt_tokens, usage.completion_tokens, usage.seconds))
                self._report(result, started)
                continue
            key = tuple(sorted((p, normalise(t) if p.endswith(".py") else t) for p, t in edits.items()))
            before = time.monotonic()
            if key in seen:
                outcome, diff, kind = seen[key].outcome, seen[key].diff, "duplicate"
            else:
                try:
                    outcome, diff = self._run(edits)
                except OSError as exc:  # a path the filesystem refuses: a file used as a directory, a long name
                    where = str(exc.filename or "").replace(str(self.scratch.work) + "/", "")
                    why = f"- the change could not be written: {exc.strerror or exc}: {where}"
                    self.errors[parent.n] = why
                    self._record(store, result, _Candidate(result.attempts, parent.edits, parent.outcome, why),
                                 "edit-error", msgs, completion.text, parent=parent.n,
                                 usage=(usage.prompt_tokens, usage.completion_tokens, usage.seconds))
                    self._report(result, started)
                    continue
                kind = "model"
                if outcome.infrastructure:
                    return RunStatus.ERROR, f"the sandbox failed: {outcome.problem}", None
            refused = "".join(f"Refused: {r}\n" for r in edit.refused)
            feedback = refused + ("" if outcome.green else render_outcome(
                outcome, self.command.display(), self._feedback_limit()))
            candidate = _Candidate(result.attempts, edits, outcome, feedback, diff)
            self._record(store, result, candidate, kind, msgs, completion.text, outcome=outcome, parent=parent.n,
                         usage=(usage.prompt_tokens, usage.completion_tokens, usage.seconds),
                         exec_seconds=time.monotonic() - before, notes=edit.notes)
            seen.setdefault(key, candidate)
            self.candidates.append(candidate)
            if self._best() is candidate:  # kept current, so `show --diff` finds it even after a kill -9
                store.update_run(result.run_id, best_attempt=candidate.record_id, tests_passed=candidate.passed)
            self.errors.pop(parent.n, None)
            self._report(result, started)
            if outcome.green:
                check = self._verify(edits)
                if not check.green:
                    return RunStatus.ERROR, ("an attempt passed in the working copy but failed the clean re-run: "
                                             + (check.problem or render_outcome(check, self.command.display(), 600))), None
                return RunStatus.GREEN, f"green after {plural(result.model_calls, 'model call')}", candidate

    def _verify(self, edits: dict[str, str]) -> Outcome:
        """Re-run with the tests restored from the snapshot, in a fresh copy and a fresh sandbox; the
        copy must differ from the snapshot in exactly the candidate's paths."""
        allowed = {p: t for p, t in edits.items() if not self.protect(p)}
        fresh = self.scratch.fresh(allowed)
        changed = self.scratch.changed(fresh)
        if changed != sorted(allowed) or len(allowed) != len(edits):
            return Outcome((), 0.0, f"the verified copy changes {', '.join(changed) or 'nothing'}, not what the "
                           f"candidate changes ({', '.join(sorted(edits))})")
        return execute(self.command, self.runner, fresh, self.collection, watch=self._data(edits))

    def _record(self, store: Store, result: FixResult, c: _Candidate, kind: str, msgs: list[dict[str, str]],
                response: str, *, outcome: Outcome | None = None, parent: int | None = None,
                usage: tuple[int, int, float] = (0, 0, 0.0), exec_seconds: float = 0.0,
                notes: list[str] | None = None) -> None:
        feedback = c.feedback
        if notes:
            feedback = "Applied: " + "; ".join(notes) + ("\n" + feedback if feedback else "")
        c.record_id = store.add_attempt(result.run_id, AttemptRecord(
            n=c.n, kind=kind, messages=msgs, response=response, code=c.diff if kind != "edit-error" else None,
            outcome=outcome.to_dict() if outcome else None, passed=outcome.passed if outcome else 0,
            total=outcome.total if outcome else 0, green=bool(outcome and outcome.green), feedback=feedback,
            prompt_tokens=usage[0], completion_tokens=usage[1], model_seconds=usage[2], exec_seconds=exec_seconds,
            parent=parent,
        ))

    def _report(self, result: FixResult, started: float) -> None:
        if self.on_progress is None:
            return
        best = self._best()
        last = self.candidates[-1]
        self.on_progress(FixProgress(
            calls=result.attempts, max_calls=self.options.budget.max_calls,
            best_passed=max(best.passed if best else 0, self.candidates[0].passed), total=result.tests_total,
            last_passed=last.passed, prompt_tokens=result.prompt_tokens, completion_tokens=result.completion_tokens,
            elapsed=time.monotonic() - started, context=tuple(self.context), python=self.interpreter.describe(),
        ))
