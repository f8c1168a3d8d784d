"""Applying a verified green change to the user's tree: the only place repo mode writes there.

Each changed file is replaced atomically after checking it still holds what the snapshot saw and
that no path leaves the repository or passes through a symlink. `--dry-run` prints the verified
diff and writes nothing; `--confirm` shows it and asks first. With `--commit` exactly those paths
are committed; a failed commit is an error, and the tree (and index) go back to how they were
before the apply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from greenloop.loop.result import RunStatus
from greenloop.repo.usertree import apply_to_tree, commit, dirty_paths
from greenloop.repo.workspace import GitError

if TYPE_CHECKING:
    from greenloop.loop.result import Result
    from greenloop.repo.problem import RepoProblem

APPLY_HINT = 'git -C "$(git rev-parse --show-toplevel)" apply'


def diff_paths(diff: str) -> list[str]:
    """The paths a unified git diff touches, from its `diff --git a/X b/X` headers."""
    found: set[str] = set()
    for line in diff.split("\n"):
        if line.startswith("diff --git "):
            rest = line[len("diff --git "):]
            if rest.startswith('"'):
                # git quotes a name's UTF-8 bytes as octal escapes: back to bytes, then UTF-8.
                quoted = rest[1:].split('"', 1)[0].encode("latin-1", "backslashreplace").decode("unicode_escape")
                found.add(quoted.encode("latin-1", "replace").decode("utf-8", "replace")[2:])
            else:
                found.add(rest[2:(len(rest) - 1) // 2])
    return sorted(found)


def apply_green(problem: RepoProblem, result: Result, edits: dict[str, str], diff: str) -> None:
    """Write the green change (and commit it with --commit), recording what happened in `result`."""
    options = problem.options
    paths = sorted(edits)
    how = f"greenloop show {result.run_id} --diff | {APPLY_HINT}"
    shown = diff_paths(diff)
    if shown != paths:
        result.status = RunStatus.ERROR
        result.message += (f"; NOT applied: the change's paths ({', '.join(paths)}) differ from those its verified "
                           f"diff shows ({', '.join(shown) or 'none'})")
        return
    if options.dry_run:
        result.message += f"; dry run: nothing applied (to apply: {how})"
        return
    if options.confirm is not None and not options.confirm(diff):
        result.message += f"; not applied: declined (to apply later: {how})"
        return
    theirs = dirty_paths(problem.info, paths) if options.commit else []
    originals = {p: problem.scratch.original(p) for p in paths}
    conflicts = apply_to_tree(problem.info.root, edits, originals)
    if conflicts:
        result.message += f"; NOT applied: {', '.join(conflicts)} changed in your tree during the run (apply it yourself: {how})"
        return
    result.applied = True
    result.message += f"; applied to {', '.join(paths)}"
    if not options.commit:
        return
    if theirs:
        result.message += f"; not committed: {', '.join(theirs)} had uncommitted changes of yours"
        return
    calls = f"{result.model_calls} model call{'s' if result.model_calls != 1 else ''}"
    text = (f"greenloop fix: make `{problem.command.display()}` pass\n\nChanged {', '.join(paths)}.\n"
            f"Found by greenloop run {result.run_id} in {calls} ({problem.model.name}).\n")
    try:
        result.commit = commit(problem.info, paths, text, originals)
        result.message += f"; committed {result.commit[:12]}"
    except GitError as exc:
        result.applied = False
        result.status = RunStatus.ERROR
        result.message += (f"; the commit failed ({exc}), so the change was taken back out: your tree is as it was "
                           f"(apply it yourself: {how})")
