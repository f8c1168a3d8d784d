"""What the embedded model can reach on HumanEval at all, from a bench store and a few probes.

Used to judge whether a search target is reachable with a given model, not to tune one:

  ever-solved   Per problem, which benches in the store solved it and how many attempts were made;
                the problems no bench ever solved are the "never solved" set the probes below use.
  splice        Local repair's bigger sibling, offline: in the best stored candidates of each
                never-solved problem, replace each `return` expression with every `return`
                expression any stored candidate of that problem wrote (where its free names are
                bound), and run the variants. Zero greens means the ingredients are not in the
                population, so no amount of recombining the model's code finds a solution.
  sampler T:MIN_P[,T:MIN_P...]
                Fresh samples (the `sample` prompt) on each never-solved problem at other
                temperatures / min_p, to see whether hotter sampling reaches them.

    .venv/bin/python benchmarks/humaneval_ceiling.py --db runs.db --problems 0-39 ever-solved
    .venv/bin/python benchmarks/humaneval_ceiling.py --db runs.db --problems 0-39 splice --top 10
    .venv/bin/python benchmarks/humaneval_ceiling.py --db runs.db --problems 0-39 sampler 1.0:0.05,1.3:0.1 --samples 12
"""

from __future__ import annotations

import argparse
import ast
import builtins
import sqlite3
import sys
from collections import Counter, defaultdict

from greenloop.benchmarks.humaneval import MODULE, TESTS_FILE, Problem, load_problems, select
from greenloop.benchmarks.measure import BENCH_LIMITS
from greenloop.execute import TestSuite, WorkerPool
from greenloop.loop.extract import extract_code
from greenloop.loop.prompts import first_messages
from greenloop.stub import imported_names


def ever_solved(db: sqlite3.Connection, problems: list[Problem]) -> list[Problem]:
    """Print who solved what; return the problems nobody solved."""
    never = []
    for problem in problems:
        solved_by = [row[0] for row in db.execute(
            "select bench_id from bench_problems where problem = ? and solved = 1", (problem.task_id,))]
        attempts = db.execute("select count(*) from attempts a join bench_problems b on a.run_id = b.run_id "
                              "where b.problem = ?", (problem.task_id,)).fetchone()[0]
        print(f"{problem.task_id:14s} attempts {attempts:5d}  solved by {len(solved_by)} bench(es)")
        if not solved_by:
            never.append(problem)
    total = db.execute("select count(*) from attempts").fetchone()[0]
    print(f"{len(problems) - len(never)} of {len(problems)} problems ever solved, over {total} recorded attempts")
    return never


def _bound(tree: ast.Module, function: ast.FunctionDef) -> set[str]:
    names = {a.arg for a in function.args.args + function.args.kwonlyargs} | set(dir(builtins))
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((a.asname or a.name).split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
    return names


def _free(expression: ast.expr) -> set[str]:
    local = {n.id for c in ast.walk(expression) if isinstance(c, ast.comprehension)
             for n in ast.walk(c.target) if isinstance(n, ast.Name)}
    local |= {a.arg for n in ast.walk(expression) if isinstance(n, ast.Lambda) for a in n.args.args}
    return {n.id for n in ast.walk(expression) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)} - local


def splice(db: sqlite3.Connection, problems: list[Problem], top: int, cap: int) -> None:
    flipped = 0
    for problem in problems:
        candidates: dict[str, tuple[float, ast.Module, ast.FunctionDef]] = {}
        for code, passed, total in db.execute(
                "select a.code, a.passed, a.total from attempts a join bench_problems b on a.run_id = b.run_id "
                "where b.problem = ? and a.code is not null", (problem.task_id,)):
            try:
                tree = ast.parse(code)
            except SyntaxError:
                continue
            functions = [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name == problem.entry_point]
            if functions:
                candidates[code] = (passed / total if total else 0.0, tree, functions[-1])
        returned = {ast.unparse(n.value) for _, _, f in candidates.values() for n in ast.walk(f)
                    if isinstance(n, ast.Return) and n.value is not None}
        variants: set[str] = set()
        for _, tree, function in sorted(candidates.values(), key=lambda c: -c[0])[:top]:
            bound = _bound(tree, function)
            for node in [n for n in ast.walk(function) if isinstance(n, ast.Return) and n.value is not None]:
                original = node.value
                for text in returned:
                    expression = ast.parse(text, mode="eval").body
                    if _free(expression) <= bound:
                        node.value = expression
                        variants.add(ast.unparse(tree))
                node.value = original
        task = problem.task("full")
        with WorkerPool(TestSuite(task.test_source, TESTS_FILE, MODULE), BENCH_LIMITS) as pool:
            greens = sum(pool.run(code).green for code in sorted(variants)[:cap])
        flipped += greens > 0
        print(f"{problem.task_id:14s} candidates {len(candidates):4d} expressions {len(returned):4d} "
              f"variants {min(cap, len(variants)):5d} green {greens}", flush=True)
    print(f"problems a splice solved: {flipped} of {len(problems)}")


def sampler(problems: list[Problem], settings: list[tuple[float, float]], samples: int) -> None:
    import functools

    import llama_cpp

    from greenloop.models.local import LocalModel

    model = LocalModel()
    original = llama_cpp.Llama.create_completion
    greens: dict[tuple[float, float], Counter[str]] = defaultdict(Counter)
    for problem in problems:
        task = problem.task("full")
        required = imported_names(ast.parse(task.test_source), MODULE)[0]
        with WorkerPool(TestSuite(task.test_source, TESTS_FILE, MODULE), BENCH_LIMITS) as pool:
            for setting in settings:
                temperature, min_p = setting
                llama_cpp.Llama.create_completion = functools.partialmethod(original, min_p=min_p)  # type: ignore[method-assign,assignment]
                for seed in range(samples):
                    reply = model.complete(first_messages(task, "examples"), temperature=temperature, max_tokens=640,
                                           seed=5000 + seed, stop=("\n```\n",))
                    code = extract_code(reply.text, required, task.stub)
                    greens[setting][problem.task_id] += bool(code and pool.run(code).green)
        print(problem.task_id, {f"T={t} min_p={m}": sum(greens[(t, m)].values()) for t, m in settings}, flush=True)
    for (temperature, min_p), counts in greens.items():
        solved = sorted(k for k, v in counts.items() if v)
        print(f"T={temperature} min_p={min_p}: {len(problems) * samples} samples, {sum(counts.values())} green, "
              f"problems solved {solved}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", required=True, help="a bench store (greenloop bench ... --db)")
    parser.add_argument("--problems", default="0-39")
    parser.add_argument("probe", choices=("ever-solved", "splice", "sampler"))
    parser.add_argument("settings", nargs="?", default="1.0:0.05,1.3:0.1", help="sampler: T:MIN_P,...")
    parser.add_argument("--top", type=int, default=10, help="splice: best candidates per problem to splice into")
    parser.add_argument("--cap", type=int, default=3000, help="splice: variants per problem at most")
    parser.add_argument("--samples", type=int, default=12, help="sampler: samples per problem and setting")
    args = parser.parse_args()
    db = sqlite3.connect(f"file:{args.db}?mode=ro", uri=True)
    problems = select(load_problems(), args.problems, None)
    never = ever_solved(db, problems)
    if args.probe == "splice":
        splice(db, never, args.top, args.cap)
    elif args.probe == "sampler":
        settings = [(float(t), float(m)) for t, m in (s.split(":") for s in args.settings.split(","))]
        sampler(never, settings, args.samples)
    return 0


if __name__ == "__main__":
    sys.exit(main())
