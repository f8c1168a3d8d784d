"""Applying a model's reply to files: SEARCH/REPLACE blocks, or code blocks merged by definition.

A reply is applied completely or not at all (its blocks may depend on each other), except that
edits to protected paths (the tests) are dropped and reported. Whatever cannot be applied becomes
an error whose text tells the model exactly what went wrong and what the file really holds.
"""

from __future__ import annotations

import difflib
import posixpath
import re
from collections.abc import Callable
from dataclasses import dataclass, field

from greenloop.repo.merge import merge_definitions

_SEARCH = re.compile(r"^\s*<{5,9}\s*SEARCH\b.*$")
_DIVIDER = re.compile(r"^\s*={5,9}\s*$")
_REPLACE = re.compile(r"^\s*>{5,9}\s*REPLACE\b.*$")
_FENCE = re.compile(r"^\s*```")
# A path with an extension or a directory, a dotfile, or a well-known extensionless file name.
_PATHLIKE = re.compile(r"^[\w./-]+\.\w+$|^[\w./-]*/[\w.-]+$|^\.[\w.-]+$"
                       r"|^(?:Makefile|makefile|GNUmakefile|Dockerfile|Jenkinsfile|justfile|Justfile|LICENSE)$")
WHOLE_FILE_LIMIT = 300  # lines: beyond this a whole-file rewrite is refused (too easy to truncate)

Reader = Callable[[str], "str | None"]
Guard = Callable[[str], "str | None"]


@dataclass(frozen=True)
class Block:
    path: str | None  # as the model wrote it; None when no file name came before the block
    search: list[str]
    replace: list[str]
    index: int  # 1-based, for messages


@dataclass(frozen=True)
class CodeBlock:
    path: str | None
    text: str


@dataclass
class EditResult:
    changes: dict[str, str] = field(default_factory=dict)  # path -> new text, only files that changed
    notes: list[str] = field(default_factory=list)  # what was applied, in words
    refused: list[str] = field(default_factory=list)  # edits to protected paths, dropped
    errors: list[str] = field(default_factory=list)  # any error means nothing was applied

    def feedback(self) -> str:
        lines = [f"- {e}" for e in self.errors] + [f"- refused: {r}" for r in self.refused]
        return "\n".join(lines)


def _filename(line: str) -> str | None:
    text = line.strip().strip("*`#:").strip()
    text = re.sub(r"^(file|path)\s*:?\s*", "", text, flags=re.IGNORECASE).strip("`'\" ")
    return text if text and " " not in text and _PATHLIKE.match(text) else None


def _name_before(lines: list[str], i: int) -> str | None:
    """The file name written on the nearest meaningful line above line i."""
    j = i - 1
    while j >= 0 and (not lines[j].strip() or _FENCE.match(lines[j])):
        if _FENCE.match(lines[j]):
            name = _filename(lines[j].strip().lstrip("`").partition(" ")[2] or "")
            if name:  # ```python src/pkg/mod.py
                return name
        j -= 1
    return _filename(lines[j]) if j >= 0 else None


def parse_reply(text: str) -> tuple[list[Block], list[CodeBlock], list[str]]:
    """SEARCH/REPLACE blocks, plain code blocks (used only when there are no SEARCH blocks), errors."""
    lines = text.replace("\r\n", "\n").split("\n")
    blocks: list[Block] = []
    errors: list[str] = []
    last_path: str | None = None
    i = 0
    while i < len(lines):
        if not _SEARCH.match(lines[i]):
            i += 1
            continue
        index = len(blocks) + len(errors) + 1
        path = _name_before(lines, i) or last_path
        last_path = path
        where = f" for {path}" if path else ""
        j = i + 1
        while j < len(lines) and not (_DIVIDER.match(lines[j]) or _SEARCH.match(lines[j])):
            j += 1
        if j == len(lines) or _SEARCH.match(lines[j]):
            errors.append(f"SEARCH block {index}{where} has no ======= line after its SEARCH text")
            i = j
            continue
        k = j + 1
        while k < len(lines) and not (_REPLACE.match(lines[k]) or _SEARCH.match(lines[k])):
            k += 1
        if k == len(lines) or _SEARCH.match(lines[k]):
            errors.append(f"SEARCH block {index}{where} is not closed: it needs a line `>>>>>>> REPLACE`")
            i = k
            continue
        blocks.append(Block(path, lines[i + 1:j], lines[j + 1:k], index))
        i = k + 1
    code: list[CodeBlock] = []
    if not blocks and not errors:
        code = _code_blocks(lines)
    return blocks, code, errors


def _code_blocks(lines: list[str]) -> list[CodeBlock]:
    found: list[CodeBlock] = []
    i = 0
    while i < len(lines):
        if not _FENCE.match(lines[i]):
            i += 1
            continue
        info = lines[i].strip().lstrip("`").split()
        path = _filename(info[-1]) if len(info) > 1 else None  # ```python src/pkg/mod.py
        above = i - 1
        while above >= 0 and not lines[above].strip():
            above -= 1
        if path is None and above >= 0:
            path = _filename(lines[above])
        j = i + 1
        while j < len(lines) and not _FENCE.match(lines[j]):
            j += 1
        found.append(CodeBlock(path, "\n".join(lines[i + 1:j])))
        i = j + 1
    if not found and any(line.strip() for line in lines):
        found.append(CodeBlock(None, "\n".join(lines)))  # bare code, no fences
    return found


def normalise_path(raw: str, known: list[str], exists: Callable[[str], bool]) -> tuple[str | None, str]:
    """The repository-relative path the model meant, or (None, why not)."""
    path = raw.strip().strip("`'\"")
    for prefix in ("a/", "b/", "./"):
        if path.startswith(prefix) and not exists(path):
            path = path[len(prefix):]
    if path.startswith("/") or path.startswith("~"):
        return None, f"{raw} is an absolute path; name files relative to the repository root"
    path = posixpath.normpath(path)
    if path == ".." or path.startswith("../"):
        return None, f"{raw} is outside the repository"
    if path == ".git" or path.startswith(".git/"):
        return None, f"{raw} is inside .git"
    if exists(path):
        return path, ""
    # Small models drop directories: "core.py" for "src/calc/core.py". Accept a unique match.
    matches = [k for k in known if k.endswith("/" + path)]
    return (matches[0], "") if len(matches) == 1 else (path, "")


def _match(content: list[str], search: list[str]) -> tuple[list[int], str]:
    """Start lines where `search` occurs, trying exact, then trailing-space, then re-indented matches.
    The second value is the indentation to add to the replacement (may be negative, as '-N')."""
    k = len(search)
    spans = range(len(content) - k + 1)
    exact = [i for i in spans if content[i:i + k] == search]
    if exact:
        return exact, ""
    loose = [i for i in spans if [c.rstrip() for c in content[i:i + k]] == [s.rstrip() for s in search]]
    if loose:
        return loose, ""
    found: list[int] = []
    shift = ""
    for i in spans:
        window = content[i:i + k]
        if [c.strip() for c in window] != [s.strip() for s in search]:
            continue
        deltas = {len(c) - len(c.lstrip()) - (len(s) - len(s.lstrip())) for c, s in zip(window, search, strict=True)
                  if s.strip()}
        if len(deltas) == 1:
            found.append(i)
            shift = str(deltas.pop())
    return found, shift


def _shifted(lines: list[str], shift: str) -> list[str]:
    n = int(shift or 0)
    if n > 0:
        return [" " * n + line if line.strip() else line for line in lines]
    if n < 0:
        return [line[min(-n, len(line) - len(line.lstrip())):] for line in lines]
    return lines


def closest_lines(content: list[str], search: list[str], context: int = 12) -> str:
    """The window of the file most similar to `search`, numbered, for the error message."""
    if not content:
        return "(the file is empty)"
    k = max(1, min(len(search), len(content)))
    wanted = "\n".join(s.strip() for s in search)
    best, best_i = -1.0, 0
    for i in range(len(content) - k + 1):
        matcher = difflib.SequenceMatcher(None, "\n".join(c.strip() for c in content[i:i + k]), wanted)
        if matcher.real_quick_ratio() > best and matcher.quick_ratio() > best:
            ratio = matcher.ratio()
            if ratio > best:
                best, best_i = ratio, i
    shown = content[best_i:best_i + min(k, context)]
    return "\n".join(f"{best_i + n + 1:4d} | {line}" for n, line in enumerate(shown))


def _apply_block(content: str, block: Block, path: str) -> tuple[str, str]:
    """(new content, note) or raises ValueError with the message for the model."""
    lines = content.split("\n")
    search = block.search
    while search and not search[-1].strip():
        search = search[:-1]
    if not any(s.strip() for s in search):
        raise ValueError(f"SEARCH block {block.index} for {path} has empty SEARCH text; copy the lines to "
                         "change from the file into it")
    starts, shift = _match(lines, search)
    if not starts:
        raise ValueError(
            f"SEARCH block {block.index}: this SEARCH text was not found in {path}; the closest lines are:\n"
            f"{closest_lines(lines, search)}\nCopy the SEARCH lines exactly from the file."
        )
    if len(starts) > 1:
        at = ", ".join(str(s + 1) for s in starts[:6])
        raise ValueError(f"SEARCH block {block.index}: this SEARCH text occurs {len(starts)} times in {path} "
                         f"(lines {at}); add lines around it so it matches once")
    start = starts[0]
    lines[start:start + len(search)] = _shifted(block.replace, shift)
    return "\n".join(lines), f"{path}: replaced lines {start + 1}-{start + len(search)}"


def _crlf(text: str) -> tuple[str, bool]:
    return (text.replace("\r\n", "\n"), True) if "\r\n" in text else (text, False)


def apply_reply(text: str, *, read: Reader, protect: Guard, editable: list[str],
                keep: set[str] | None = None) -> EditResult:
    """Apply the reply to the files `read` returns; `editable` lists the files shown to the model
    (the first is where a bare code block goes when nothing else says so). With `keep` (the names
    the tests use), code blocks are pruned of definitions nothing needs (see merge.py)."""
    blocks, code, errors = parse_reply(text)
    result = EditResult(errors=list(errors))
    if not blocks and not code and not errors:
        result.errors.append("the reply holds no edits: use SEARCH/REPLACE blocks, or one ```python block")
    current: dict[str, str] = {}
    crlf: dict[str, bool] = {}

    def load(path: str) -> str | None:
        if path not in current:
            raw = read(path)
            if raw is None:
                return None
            current[path], crlf[path] = _crlf(raw)
        return current[path]

    def resolve(raw: str | None) -> str | None:
        if raw is None:
            if len(editable) == 1:
                return editable[0]
            result.errors.append("a block names no file: write the file's path on the line before it")
            return None
        path, why = normalise_path(raw, editable, lambda p: read(p) is not None)
        if path is None:
            result.errors.append(why)
            return None
        refusal = protect(path)
        if refusal:
            result.refused.append(refusal)
            return None
        return path

    for block in blocks:
        path = resolve(block.path)
        if path is None:
            continue
        content = load(path)
        if content is None:
            if any(s.strip() for s in block.search):
                shown = ", ".join(editable) or "none"
                result.errors.append(f"SEARCH block {block.index}: {path} does not exist (files shown: {shown}); "
                                     "to create a file use an empty SEARCH section")
                continue
            current[path], crlf[path] = "\n".join(block.replace) + "\n", False
            result.notes.append(f"{path}: created")
            continue
        try:
            current[path], note = _apply_block(content, block, path)
            result.notes.append(note)
        except ValueError as exc:
            result.errors.append(str(exc))
    for chunk in code:
        path = resolve(chunk.path) if chunk.path else _target_for(chunk.text, editable, load, result)
        if path is None:
            continue
        _apply_code(path, chunk.text, load(path), current, crlf, result, keep)
    if result.errors:
        result.changes, result.notes = {}, []
        return result
    for path, new in current.items():
        original = read(path)
        restored = new.replace("\n", "\r\n") if crlf.get(path) else new
        if restored != original:
            result.changes[path] = restored
    return result


def _target_for(code: str, editable: list[str], load: Callable[[str], str | None], result: EditResult) -> str | None:
    """A code block without a file name goes to the shown file defining most of the names it defines."""
    if not editable:
        result.errors.append("the code block names no file: write the file's path on the line before it")
        return None
    names = set(re.findall(r"^(?:async\s+def|def|class)\s+(\w+)", code, flags=re.MULTILINE))

    def overlap(path: str) -> int:
        text = load(path) or ""
        return len(names & set(re.findall(r"^\s*(?:async\s+def|def|class)\s+(\w+)", text, flags=re.MULTILINE)))

    return max(editable, key=lambda p: (overlap(p), -editable.index(p)))


def _apply_code(path: str, code: str, content: str | None, current: dict[str, str], crlf: dict[str, bool],
                result: EditResult, keep: set[str] | None) -> None:
    if path.endswith(".py") and content is not None:
        merged = merge_definitions(content, code, keep)
        if isinstance(merged, str):
            result.errors.append(f"{path}: {merged}")
            return
        current[path], notes = merged
        result.notes.extend(f"{path}: {n}" for n in notes)
        return
    if content is not None and content.count("\n") > WHOLE_FILE_LIMIT:
        result.errors.append(f"{path} has {content.count(chr(10))} lines, too long to rewrite whole; "
                             "use SEARCH/REPLACE blocks")
        return
    current[path] = code.rstrip("\n") + "\n"
    crlf.setdefault(path, False)
    result.notes.append(f"{path}: {'rewritten' if content is not None else 'created'}")
