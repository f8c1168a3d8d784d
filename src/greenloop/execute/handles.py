"""Judge-side stand-ins for the candidate's objects: handles, their classes, their operators.

A judge-side class (metaclass `_Meta`) stands for one of the candidate's classes: calling it
constructs an instance in the candidate's process, its methods and operators forward there, and
its instances are handles. A handle's comparison with plain data is NotImplemented, so Python falls
back to identity: a handle never decides equality or ordering against a value the tests hold.
"""

from __future__ import annotations

import dis
import os
from collections.abc import Callable
from typing import Any

from greenloop.execute import wire

_GREENLOOP_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__))) + os.sep
_COMPARISONS = {"__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__"}
current: Any = None  # this judge process's `proxy.Remote` (proxy.connect)


class CandidateLost(BaseException):
    """The candidate process is gone (it exited, crashed or was killed): nothing it said counts.
    A BaseException, so `pytest.raises(Exception)` cannot swallow it."""


class Uncrossable(wire.WireError):
    """An object of the tests' that the split judge cannot send to the candidate."""


class CandidateAbort(BaseException):
    """The candidate raised KeyboardInterrupt or another non-Exception: an error, never a pass."""


def _remote() -> Any:
    if current is None:
        raise CandidateLost("no candidate process is connected")
    return current


class Handle:
    """A candidate object the judge refers to by number; subclassed per candidate class."""

    __slots__ = ("_gl_ref",)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_gl_"):
            raise AttributeError(name)
        return _remote().ask(["getattr", ["h", self._gl_ref], name])

    def __setattr__(self, name: str, value: Any) -> None:
        remote = _remote()
        remote.ask(["setattr", ["h", self._gl_ref], name, remote.encode(value)])

    def __delattr__(self, name: str) -> None:
        _remote().ask(["delattr", ["h", self._gl_ref], name])

    def __repr__(self) -> str:
        return str(_remote().operate(self, "repr", ()))

    def __str__(self) -> str:
        return str(_remote().operate(self, "str", ()))

    def __dir__(self) -> list[str]:
        return [str(n) for n in _remote().operate(self, "dir", ())]


class _Meta(type):
    """The metaclass of judge-side classes: calling one constructs a remote instance."""

    def __call__(cls, *args: Any, **kwargs: Any) -> Any:
        return _remote().call(cls, args, kwargs)

    def __getattr__(cls, name: str) -> Any:
        if name.startswith("_gl_"):
            raise AttributeError(name)
        return _remote().ask(["getattr", ["k", cls.__dict__["_gl_class"]], name])


def _raised_by_the_test(tb: Any) -> bool:
    """Whether the exception's innermost frame is a `raise` statement outside greenloop's own code
    (the test file's): not a forwarded call re-raising the candidate's exception, not an operation
    of the test's that failed."""
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if code.co_filename.startswith(_GREENLOOP_DIR):
        return False
    return dis.opname[code.co_code[tb.tb_lasti]] == "RAISE_VARARGS"  # the test's source may be gone by now


def _operator(name: str) -> Callable[..., Any]:
    if name in _COMPARISONS:
        def compare(self: Handle, other: Any) -> Any:
            if not isinstance(other, Handle):
                return NotImplemented  # plain data is judged by the builtins' own ==, never the candidate's
            return _remote().operate(self, name, (other,))
        compare.__name__ = name
        return compare
    if name == "__exit__":
        def leave(self: Handle, kind: Any, value: Any, tb: Any) -> Any:
            suppress = _remote().operate(self, name, (kind, value, None))
            # The candidate may swallow only what the test itself raised on purpose (`raise E` in the
            # test file, as contextlib.suppress is tested): never a verdict (a failed assert, pytest's
            # outcomes), an error of the test's own expressions, or its own exceptions from calls.
            if value is None or isinstance(value, (AssertionError, _outcome_exception())):
                return False
            return suppress if _raised_by_the_test(tb) else False
        return leave
    op = "bool" if name == "__bool__" else name

    def forward(self: Handle, *args: Any) -> Any:
        return _remote().operate(self, op, args)

    forward.__name__ = name
    return forward


def _method(name: str) -> Callable[..., Any]:
    def method(self: Any, *args: Any, **kwargs: Any) -> Any:
        return _remote().method(self, name, args, kwargs)

    method.__name__ = name
    return method


def _class_method(name: str) -> classmethod[Any, Any, Any]:
    def method(cls: Any, *args: Any, **kwargs: Any) -> Any:
        return _remote().method(cls, name, args, kwargs)

    method.__name__ = name
    return classmethod(method)


def _exception_str(self: BaseException) -> str:
    message = self.__dict__.get("_gl_message")
    return message if isinstance(message, str) else BaseException.__str__(self)


def _outcome_exception() -> type[BaseException]:
    from _pytest.outcomes import OutcomeException

    return OutcomeException
