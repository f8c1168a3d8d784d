"""Driving pytest inside the sandbox: prepared once per worker, run once per forked child.

`prepare` does pytest's start-up in the worker (configuration, plugins, fixture discovery, the
compiled test module), so a child only collects and runs. When the tests use the target module
only inside functions (`fast_bindings`), the worker also collects once against a placeholder
target; each child then imports the candidate, rebinds the test module's names to it and runs
the already-collected items with a minimal protocol (setup, call, teardown hooks; no reports).
Anything else takes the full path: collection and pytest's run loop in the child.
"""

from __future__ import annotations

import fnmatch
import importlib
import importlib.util
import os
import sys
import types
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _pytest.runner import runtestprotocol

from greenloop.execute import reporter
from greenloop.execute.analysis import fast_bindings  # noqa: F401 - re-exported for the worker
from greenloop.execute.guard import short_repr
from greenloop.execute.reporter import Recorder, captured, equality_guard, signer

_DISABLED_PLUGINS = ("cacheprovider", "terminal", "logging", "junitxml", "pastebin", "stepwise", "doctest",
                     "unraisableexception", "threadexception")


def pytest_args(scratch: str, test_path: str) -> list[str]:
    """A minimal pytest: no cache, no terminal, no plugins we do not need, nothing from the host."""
    args = [test_path, "--noconftest", "--rootdir", scratch, "-c", os.path.join(scratch, ".pytest.ini"),
            "-o", "addopts=", "--capture=no", "-W", "ignore::pytest.PytestAssertRewriteWarning"]
    for plugin in _DISABLED_PLUGINS:
        args += ["-p", f"no:{plugin}"]
    return args


def prepare(scratch: str, test_path: str) -> Any:
    """Configure pytest, start its session and compile the tests, in the worker, before any fork."""
    from _pytest.assertion import rewrite
    from _pytest.config import _prepareconfig
    from _pytest.main import Session

    reporter.trust_test_path(test_path)
    config = _prepareconfig(pytest_args(scratch, test_path), plugins=[])
    rewrite._rewrite_test(Path(test_path), config)
    config._do_configure()
    session = Session.from_config(config)
    session.exitstatus = 0
    config.hook.pytest_sessionstart(session=session)
    return session


def prepare_directory(scratch: str) -> Any:
    """`prepare` for a scratch directory whose test file is not written yet (the zygote's
    slots): pytest collects the directory, so its configuration names no file. See `adopt`."""
    from _pytest.config import _prepareconfig
    from _pytest.main import Session

    config = _prepareconfig(pytest_args(scratch, scratch), plugins=[])
    config._do_configure()
    session = Session.from_config(config)
    session.exitstatus = 0
    config.hook.pytest_sessionstart(session=session)
    return session


def adopt(session: Any, test_path: str) -> Any:
    """Take a slot's configured session for the test file now written in its directory."""
    from _pytest.assertion import rewrite

    reporter.trust_test_path(test_path)
    rewrite._rewrite_test(Path(test_path), session.config)
    return session


def slot_fits(test_name: str, target: str) -> bool:
    """Whether collecting a slot's directory finds the test file and nothing else: the test file
    has a name pytest collects by default, the target's file does not."""
    def collected(name: str) -> bool:
        return fnmatch.fnmatch(name, "test_*.py") or fnmatch.fnmatch(name, "*_test.py")

    return collected(test_name) and not collected(target + ".py") and test_name != target + ".py"


def register_recorder(session: Any, scratch: str, skippable: frozenset[str] | None = None) -> None:
    """Register the reporting plugin in the worker, once: registering it costs ~1 ms (pytest
    parses every plugin for fixtures), which each child would otherwise pay. The worker's own
    collection must be over by now; the child hands the recorder its signed pipe."""
    scratch = scratch.rstrip("/") + "/"
    session.config.pluginmanager.register(Recorder(_unconnected, scratch, skippable), "greenloop-recorder")


def _unconnected(record: dict[str, Any]) -> None:
    raise RuntimeError("the recorder has no pipe yet")


def _recorder(session: Any, send: Any) -> Recorder:
    recorder = session.config.pluginmanager.get_plugin("greenloop-recorder")
    if not isinstance(recorder, Recorder):
        raise RuntimeError("the recorder was not registered in the worker")
    recorder.send = send
    equality_guard.untrusted_dirs = (recorder.scratch,)
    return recorder


def _load(name: str, path: str) -> types.ModuleType:
    """Import the candidate from its file. Straight from its path: no finder walks `sys.path`
    (invalidating and re-listing the import caches cost ~0.5 ms), and no bytecode is written."""
    sys.dont_write_bytecode = True
    sys.modules.pop(name, None)
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        sys.modules.pop(name, None)
        raise
    return module


def collect(session: Any) -> tuple[list[str], str]:
    """Collect in the worker (against the placeholder target): test ids, and any collection error."""
    problems: list[str] = []

    class Errors:
        def pytest_collectreport(self, report: Any) -> None:
            if report.failed:
                problems.append(reporter.compact_error(str(report.longrepr)))

    plugin = Errors()
    session.config.pluginmanager.register(plugin, "greenloop-collect-errors")
    try:
        session.perform_collect()
    except (session.Interrupted, session.Failed):
        pass
    except BaseException as exc:  # noqa: BLE001 - reported as a collection error
        problems.append(f"{type(exc).__name__}: {short_repr(exc, 300)}")
    finally:
        session.config.pluginmanager.unregister(plugin)
    return [item.nodeid for item in session.items], "\n".join(problems)


def _params(item: Any) -> dict[str, Any]:
    return dict(getattr(getattr(item, "callspec", None), "params", {}))


def _direct(item: Any) -> bool:
    """A test whose only inputs are its parametrize values and that carries no other marks."""
    if any(mark.name != "parametrize" for mark in item.iter_markers()):
        return False
    return set(item._fixtureinfo.names_closure) <= set(_params(item))


# The runner's last record: the worker stops reading when it arrives (worker._watch).
LAST_RECORD = {"kind": "exit"}


def _finish(send: Any) -> None:
    send({"kind": "done"})
    send(LAST_RECORD)
    sys.stdout.flush()
    os._exit(0)


def run_full(session: Any, result_fd: int, key: bytes, collect_only: bool = False) -> None:
    """Collect and run in the child with pytest's own run loop. Never returns."""
    recorder = _recorder(session, signer(result_fd, key))
    send = recorder.send
    config = session.config
    config.option.collectonly = collect_only
    try:
        config.hook.pytest_collection(session=session)
        config.hook.pytest_runtestloop(session=session)
    except (session.Interrupted, session.Failed):
        pass  # collection errors were reported through the hooks
    except BaseException as exc:  # the candidate may raise SystemExit past pytest
        recorder.internal_error(exc)
    _finish(send)


def run_fast(session: Any, bindings: dict[str, str], target: str, scratch: str, result_fd: int,
             key: bytes, load: Callable[[], types.ModuleType] | None = None) -> None:
    """Import the candidate (or `load` its stand-in), rebind the collected test module to it,
    run the items. Never returns."""
    recorder = _recorder(session, signer(result_fd, key))
    send = recorder.send
    items = session.items
    send({"kind": "collected", "ids": [item.nodeid for item in items]})
    try:
        module = load() if load else _load(target, os.path.join(scratch, target + ".py"))
        for test_module in {id(item.module): item.module for item in items}.values():
            for name, attribute in bindings.items():
                if attribute and not hasattr(module, attribute):
                    raise ImportError(f"cannot import name {attribute!r} from {target!r} ({target}.py)")
                setattr(test_module, name, getattr(module, attribute) if attribute else module)
    except BaseException as exc:  # noqa: BLE001 - the candidate cannot be imported: that is its result
        recorder.internal_error(exc)
        _finish(send)
    for index, item in enumerate(items):
        following = items[index + 1] if index + 1 < len(items) else None
        recorder.begin(item)
        with captured() as output:
            if _direct(item):
                # No fixtures, no marks: nothing for setup/teardown to do but hand over the
                # parameters. Calling the recorder directly skips ~0.5 ms of hooks per test.
                item.funcargs = dict(_params(item))
                try:
                    recorder.pytest_pyfunc_call(item)
                except BaseException:  # noqa: BLE001, S110 - recorded
                    pass
            else:
                # pytest's protocol minus reporting: setup/call/teardown with their makereport
                # hooks (fixtures such as tmp_path rely on them); the recorder judges.
                runtestprotocol(item, log=False, nextitem=following)
        recorder.end(output.getvalue())
    _finish(send)
