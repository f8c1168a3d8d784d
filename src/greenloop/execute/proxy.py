"""The judge side of the split judge: the module the tests import in place of the candidate's.

`load` sends the candidate's code to its process and builds a module from the manifest that
comes back: plain values as exact builtins, each function as a judge-side function that forwards
its calls, each class as a judge-side class whose methods and operators forward, each exception
class as a judge-side exception class with the same name and builtin bases. What the candidate
returns that is not plain data arrives as a handle: an instance of such a judge-side class.

A handle never decides equality or ordering against plain data: its comparison operators answer
NotImplemented unless the other side is a handle too, so Python falls back to identity (unequal).
Nothing here runs candidate code; every value the judge sees was rebuilt by `wire`.
"""

from __future__ import annotations

import builtins
import sys
import types
from collections.abc import Callable
from typing import Any

from greenloop.execute import handles, wire
from greenloop.execute.handles import (
    CandidateAbort,
    CandidateLost,
    Handle,
    Uncrossable,
    _class_method,
    _exception_str,
    _Meta,
    _method,
    _operator,
    _outcome_exception,
    _remote,
)


class Remote:
    """The judge's connection to one candidate process."""

    def __init__(self, peer: wire.Peer, target: str, on_lost: Callable[[str], None],
                 on_uncrossable: Callable[[str], None] = lambda why: None) -> None:
        self.peer = peer
        self.target = target
        self.on_lost = on_lost
        self.on_uncrossable = on_uncrossable
        self.lost = ""
        self.objects: dict[int, Any] = {}
        self.mine: list[Any] = []  # the judge's callables and iterators the candidate may call back
        self.module_ref = 0

    # -- requests -----------------------------------------------------------------------------
    def request(self, message: list[Any]) -> list[Any]:
        if self.lost:
            raise CandidateLost(self.lost)
        try:
            reply = self.peer.request(message)
        except (wire.PeerLost, OSError, ValueError) as exc:
            self.lost = f"the candidate process died during a call ({type(exc).__name__}: os._exit, a crash or a limit)"
            self.on_lost(self.lost)
            raise CandidateLost(self.lost) from None
        if len(reply) > 2 and reply[2]:
            sys.stdout.write(str(reply[2]))
        if reply[0] == "x":
            raise self.decode(reply[1])
        return reply

    def ask(self, message: list[Any]) -> Any:
        return self.decode(self.request(message)[1])

    def call(self, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._with_args(["call", self.encode(target)], args, kwargs)

    def method(self, target: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        return self._with_args(["method", self.encode(target), name], args, kwargs)

    def operate(self, target: Any, name: str, args: tuple[Any, ...]) -> Any:
        return self._with_args(["op", self.encode(target), name], args, {})

    def _with_args(self, head: list[Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        try:
            reply = self.request([*head, self.encode(list(args)), self.encode(kwargs)])
        except (StopIteration, StopAsyncIteration) as exc:
            if head[0] == "op" and head[2] in ("__next__", "__anext__"):
                raise
            # As PEP 479 does for generators: a call that raises StopIteration would end the
            # test's loop around it early (`all(map(f, cases))` is then True) instead of failing.
            raise RuntimeError(f"the code raised {type(exc).__name__} from a call") from None
        value = self.decode(reply[1])
        if reply[3]:
            sent = [*args, *kwargs.values()]
            for index, data in reply[3]:
                _copy_back(sent[int(index)], self.decode(data))
        return value

    def handle(self, request: list[Any]) -> list[Any]:
        """The candidate calls back a callable or iterator the judge passed it; nothing else."""
        try:
            op = request[0]
            if op == "call" and request[1][0] == "j":
                function = self.mine[int(request[1][1])]
                result = function(*self.decode(request[2]), **self.decode(request[3]))
            elif op == "next":
                result = next(self.mine[int(request[1])])
            else:
                raise PermissionError(f"the judge does not answer {op!r}")
            return ["r", self.encode(result), "", []]
        except Exception as exc:  # noqa: BLE001 - the test's callback raised: the candidate sees it
            return ["x", self.encode(exc), ""]

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, value: Any) -> Any:
        try:
            return wire.Encoder(self._other)(value)
        except Uncrossable as exc:
            # An object of the tests' own kind cannot cross (the candidate can hand the judge only
            # values that cross back): these tests need the shared judge, which the pool switches
            # to. Limits (depth, size) are errors, never a reason to switch.
            self.on_uncrossable(str(exc))
            raise

    def decode(self, data: Any) -> Any:
        return wire.decode(data, self._rebuild)

    def _other(self, value: Any) -> list[Any]:
        if isinstance(value, Handle):
            return ["h", object.__getattribute__(value, "_gl_ref")]
        ref = None
        if isinstance(value, type):
            ref = value.__dict__.get("_gl_class")
        elif isinstance(value, types.FunctionType):
            ref = value.__dict__.get("_gl_ref")
        if ref is not None and self.objects.get(ref) is value:
            return ["k" if isinstance(value, type) else "f", ref]
        if isinstance(value, type):
            name = value.__name__
            if getattr(builtins, name, None) is value:
                return ["B", name]
            if issubclass(value, BaseException):
                return ["B", _builtin_base(value).__name__]
        if isinstance(value, BaseException):
            return ["e", self._other(type(value)), self.encode(list(value.args)), "", {}, "", {}]
        if callable(value) or _iterator(value):
            self.mine.append(value)
            return ["j", len(self.mine) - 1, "call" if callable(value) else "iter"]
        raise Uncrossable(f"a {type(value).__name__} cannot be passed to the candidate's code")

    def _rebuild(self, data: list[Any]) -> Any:
        tag = data[0]
        if tag == "j":
            return self.mine[int(data[1])]
        if tag == "e":
            return self._exception(data)
        if tag not in ("h", "k", "f"):
            raise wire.WireError(f"unknown value tag {tag!r}")
        ref = int(data[1])
        known = self.objects.get(ref)
        if known is not None:
            return known
        if tag == "f":
            made: Any = self._function(ref, str(data[2]), str(data[3]))
        elif tag == "k":
            if not isinstance(data[2], dict):
                raise wire.WireError("a class arrived without its description")
            made = self._class(ref, data[2])
        else:
            cls = self.decode(data[2])
            if not (isinstance(cls, type) and issubclass(cls, Handle)):
                raise wire.WireError("a handle arrived with a class that is not a judge-side class")
            made = object.__new__(cls)
            object.__setattr__(made, "_gl_ref", ref)
        self.objects[ref] = made
        return made

    def _function(self, ref: int, name: str, qualname: str) -> Callable[..., Any]:
        def function(*args: Any, **kwargs: Any) -> Any:
            return _remote()._with_args(["call", ["f", ref]], args, kwargs)

        function.__name__ = name
        function.__qualname__ = qualname
        function.__module__ = self.target
        function._gl_ref = ref  # type: ignore[attr-defined]
        return function

    def _class(self, ref: int, desc: dict[str, Any]) -> type:
        name, qualname, module = str(desc["name"]), str(desc["qualname"]), str(desc["module"])
        bases = [self.decode(b) for b in desc["bases"]]
        if desc["exc"]:
            if module != self.target and module in sys.modules and _standard(module):
                found: Any = sys.modules[module]
                for part in qualname.split("."):
                    found = getattr(found, part, None)
                if _trusted_exception(found):
                    return found  # a standard library exception: the judge's own class
            # Bases are the candidate's word too: only builtin, standard library or judge-side
            # exception classes, never pytest's outcomes (a "Skipped" base would turn a failure
            # into a skip).
            kept = [b for b in bases if _trusted_exception(b)] or [Exception]
            namespace = {"__module__": module, "__qualname__": qualname, "_gl_class": ref, "__str__": _exception_str}
            try:
                return type(name, tuple(kept), namespace)
            except TypeError:  # bases whose layouts conflict: keep the first
                return type(name, (kept[0],), namespace)
        namespace = {"__module__": module, "__qualname__": qualname, "_gl_class": ref, "__slots__": ()}
        # The description is the candidate's word: only plain method names become forwarders
        # (a "method" named __eq__ would decide equality against plain data), only known operators.
        for method in desc["methods"]:
            if _plain_name(method):
                namespace[method] = _method(method)
        for method in desc["classmethods"]:
            if _plain_name(method):
                namespace[method] = _class_method(method)
        for dunder in desc["dunders"]:
            if dunder in wire.DUNDERS:
                namespace[dunder] = _operator(dunder)
        if desc["nohash"]:
            namespace["__hash__"] = None
        handle_bases = tuple(b for b in bases if isinstance(b, type) and issubclass(b, Handle)) or (Handle,)
        try:
            return _Meta(name, handle_bases, namespace)
        except TypeError:
            return _Meta(name, (Handle,), namespace)

    def _exception(self, data: list[Any]) -> BaseException:
        _tag, kind, args_data, message, attrs, trace, local_values = data
        cls = self.decode(kind)
        if not (isinstance(cls, type) and issubclass(cls, BaseException)):
            cls = RuntimeError
        if not issubclass(cls, (Exception, SystemExit, GeneratorExit)):
            cls, message = CandidateAbort, f"the code raised {getattr(cls, '__name__', cls)}"
        args = self.decode(args_data)
        args = tuple(args) if isinstance(args, list) else (str(args),)
        exc: BaseException
        try:
            exc = cls(*args) if "_gl_class" not in cls.__dict__ else cls.__new__(cls, *args)
            if "_gl_class" in cls.__dict__:
                BaseException.__init__(exc, *args)
        except Exception:  # noqa: BLE001 - a constructor that wants other arguments
            exc = cls.__new__(cls)
            exc.args = args
        for name, value in dict(attrs).items():
            if _plain_name(name):
                try:
                    setattr(exc, str(name), self.decode(value))
                except Exception:  # noqa: BLE001, S112 - a read-only attribute of a builtin exception
                    continue
        if "_gl_class" in cls.__dict__ or cls is CandidateAbort:
            exc.__dict__["_gl_message"] = str(message)
        exc.__dict__["__gl_remote__"] = (str(trace), {str(k): str(v) for k, v in dict(local_values).items()})
        return exc


def _standard(module: str) -> bool:
    """A standard library module (not pytest, not greenloop, not anything installed)."""
    return module.split(".")[0] in sys.stdlib_module_names


def _trusted_exception(cls: Any) -> bool:
    """An exception class the judge may use as it is: a builtin one, one from the standard
    library, or a judge-side class made for the candidate; never one of pytest's outcomes."""
    if not (isinstance(cls, type) and issubclass(cls, BaseException)) or issubclass(cls, _outcome_exception()):
        return False
    return "_gl_class" in cls.__dict__ or all(
        _standard(klass.__module__) or getattr(builtins, klass.__name__, None) is klass
        for klass in cls.__mro__ if klass is not object)


def _iterator(value: Any) -> bool:
    """A plain iterator of the tests' (a generator, map, zip, ...): the candidate may only step it.
    A file-like object is an iterator too, but one the candidate would need to do more with."""
    kind = type(value)
    return (isinstance(value, (types.GeneratorType, map, filter, zip, enumerate, reversed))
            or kind.__module__ == "itertools" or kind.__name__.endswith("iterator"))


def _plain_name(name: Any) -> bool:
    return type(name) is str and name.isidentifier() and not name.startswith(("__", "_gl_"))


def _builtin_base(cls: type) -> type:
    for klass in cls.__mro__:
        if getattr(builtins, klass.__name__, None) is klass:
            return klass
    return Exception


def _copy_back(old: Any, new: Any) -> None:
    """Mirror the candidate's in-place changes of an argument in the judge's own object."""
    if type(old) is list and type(new) is list:
        for i in range(min(len(old), len(new))):
            if type(old[i]) is type(new[i]) and type(old[i]) in (list, dict, set, bytearray):
                _copy_back(old[i], new[i])
            else:
                old[i] = new[i]
        del old[len(new):]
        old.extend(new[len(old):])
    elif type(old) is dict and type(new) is dict:
        for key in [k for k in old if k not in new]:
            del old[key]
        for key, value in new.items():
            if key in old and type(old[key]) is type(value) and type(value) in (list, dict, set, bytearray):
                _copy_back(old[key], value)
            else:
                old[key] = value
    elif type(old) is set and type(new) is set:
        old.clear()
        old.update(new)
    elif type(old) is bytearray and type(new) is bytearray:
        old[:] = new


def connect(peer: wire.Peer, target: str, on_lost: Callable[[str], None],
            on_uncrossable: Callable[[str], None] = lambda why: None) -> Remote:
    """Make this process's connection to its candidate (one per judge process)."""
    remote = Remote(peer, target, on_lost, on_uncrossable)
    peer.handle = remote.handle
    handles.current = remote
    return remote


def load(remote: Remote, code: str, path: str, module: types.ModuleType | None = None) -> types.ModuleType:
    """Import the candidate in its process; the judge-side module built from its manifest (into
    `module` when given). Raises what the candidate's import raised (rebuilt), or ImportError
    for an exit at import."""
    try:
        reply = remote.request(["load", remote.target, code, path])
    except SystemExit as exc:
        raise ImportError(f"the code called sys.exit({exc.code!r}) at import") from None
    manifest = reply[1]
    module = module or types.ModuleType(remote.target)
    remote.module_ref = int(manifest["ref"])
    lazy = {str(name) for name, data in manifest["names"].items() if data == ["lazy"]}
    for name, data in manifest["names"].items():
        if name not in lazy:
            setattr(module, str(name), remote.decode(data))
    forward_all = "__getattr__" in manifest["names"]

    def module_getattr(name: str) -> Any:
        if name in lazy or (forward_all and not name.startswith("__")):
            value = remote.ask(["getattr", ["h", remote.module_ref], name])
            setattr(module, name, value)
            return value
        raise AttributeError(f"module {remote.target!r} has no attribute {name!r}")

    module.__getattr__ = module_getattr  # type: ignore[method-assign]
    module.__file__ = path
    return module
