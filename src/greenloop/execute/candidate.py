"""The candidate side of the split judge: a pristine forker and the candidate processes it forks.

The forker is forked from the worker before the worker has read the tests, so neither it nor any
candidate forked from it holds the test file in memory. Each candidate process confines itself
(rlimits, seccomp), imports only the candidate module, and answers the judge's requests over a
socket: load the module, call, read or set an attribute, apply an operator. Values go back by
value through `wire`; anything else goes back as a handle the judge refers to by number.
"""

from __future__ import annotations

import builtins
import contextlib
import ctypes
import functools
import io
import json
import os
import resource
import select
import signal
import socket
import sys
import types
from typing import Any

from greenloop.execute import wire
from greenloop.execute.guard import short_repr
from greenloop.execute.tracebacks import frames_and_locals

_PR_SET_PDEATHSIG = 1
_OUTPUT_LIMIT = 20000
_SKIP = {"__builtins__", "__loader__", "__spec__", "__cached__", "__file__", "__name__", "__package__"}
_FUNCTIONS = (types.FunctionType, types.BuiltinFunctionType, types.MethodType, types.BuiltinMethodType,
              functools.partial)
class _JudgeRef:
    """A callable or iterator of the judge's (a key function, a generator of inputs): call-only."""

    def __init__(self, server: Server, ref: int, kind: str) -> None:
        self._server, self._ref, self._kind = server, ref, kind

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self._server.ask(["call", ["j", self._ref], self._server.encode(list(args)),
                                 self._server.encode(kwargs)])

    def __iter__(self) -> _JudgeRef:
        return self

    def __next__(self) -> Any:
        return self._server.ask(["next", self._ref])


class Server:
    """Answers the judge's requests in the candidate process."""

    def __init__(self, sock: socket.socket) -> None:
        self.peer = wire.Peer(sock, self.handle)
        self.objects: dict[int, Any] = {}
        self.refs: dict[int, int] = {}
        self.described: set[int] = set()
        self.path = ""
        self.output = io.StringIO()

    # -- encoding -----------------------------------------------------------------------------
    def encode(self, value: Any) -> Any:
        return wire.Encoder(self._other)(value)

    def decode(self, data: Any) -> Any:
        return wire.decode(data, self._rebuild)

    def _ref(self, value: Any) -> int:
        ref = self.refs.get(id(value))
        if ref is None or self.objects.get(ref) is not value:
            ref = len(self.objects) + 1
            self.objects[ref] = value
            self.refs[id(value)] = ref
        return ref

    def _other(self, value: Any) -> list[Any]:
        if isinstance(value, _JudgeRef):
            return ["j", value._ref, value._kind]
        if isinstance(value, BaseException):
            return self._exception(value)
        if isinstance(value, type):
            return self._class(value, handle=False)
        if isinstance(value, _FUNCTIONS):
            name = getattr(value, "__name__", "function")
            return ["f", self._ref(value), str(name), str(getattr(value, "__qualname__", name))]
        return ["h", self._ref(value), self._class(type(value), handle=True)]

    def _class(self, cls: type, handle: bool) -> list[Any]:
        if not handle and getattr(builtins, cls.__name__, None) is cls:
            return ["B", cls.__name__]
        ref = self._ref(cls)
        if ref in self.described:
            return ["k", ref, None]
        self.described.add(ref)
        return ["k", ref, self._describe(cls)]

    def _describe(self, cls: type) -> dict[str, Any]:
        kinds: dict[str, str] = {}
        for klass in reversed(cls.__mro__):
            if klass is object:
                continue
            for name, value in vars(klass).items():
                if name.startswith("__") and name.endswith("__"):
                    continue
                if isinstance(value, (staticmethod, classmethod)):
                    kinds[name] = "class"
                elif isinstance(value, types.FunctionType):
                    kinds[name] = "method"
                else:
                    kinds.pop(name, None)
        dunders = [d for d in wire.DUNDERS if getattr(cls, d, None) is not getattr(object, d, None)]
        return {
            "name": cls.__name__, "qualname": cls.__qualname__, "module": str(cls.__module__),
            "bases": [self.encode(b) for b in cls.__bases__], "exc": issubclass(cls, BaseException),
            "methods": [n for n, k in kinds.items() if k == "method"],
            "classmethods": [n for n, k in kinds.items() if k == "class"],
            "dunders": dunders, "nohash": getattr(cls, "__hash__", None) is None,
        }

    def _exception(self, exc: BaseException) -> list[Any]:
        try:
            args = self.encode(list(exc.args))
        except Exception:  # noqa: BLE001 - arguments that cannot cross become the message
            args = ["l", short_repr(exc, 500)]
        attrs: dict[str, Any] = {}
        for name, value in list(getattr(exc, "__dict__", {}).items())[:20]:
            if not name.startswith("__"):
                with contextlib.suppress(Exception):
                    attrs[name] = self.encode(value)
        lines, local_values = frames_and_locals(exc.__traceback__, lambda name: name == self.path)
        return ["e", self._class(type(exc), handle=False), args, _text(exc),
                attrs, "\n".join(lines), local_values]

    def _rebuild(self, data: list[Any]) -> Any:
        tag = data[0]
        if tag in ("h", "k", "f"):
            return self.objects[int(data[1])]
        if tag == "j":
            return _JudgeRef(self, int(data[1]), str(data[2]))
        if tag == "e":
            cls = self.decode(data[1])
            args = self.decode(data[2])
            try:
                return cls(*args)
            except Exception:  # noqa: BLE001 - a class whose constructor wants other arguments
                exc = BaseException.__new__(cls)
                exc.args = tuple(args)
                return exc
        raise wire.WireError(f"unknown value tag {tag!r}")

    # -- requests -----------------------------------------------------------------------------
    def ask(self, message: list[Any]) -> Any:
        """A request to the judge (a callback); its exception is raised here."""
        reply = self.peer.request(message)
        if reply[0] == "x":
            raise self.decode(reply[1])
        return self.decode(reply[1])

    def handle(self, request: list[Any]) -> list[Any]:
        sent: list[Any] = []
        try:
            op = request[0]
            if op == "load":
                return ["r", self._load(str(request[1]), str(request[2]), str(request[3])), self._drain(), []]
            target = self.decode(request[1])
            if op in ("call", "method", "op"):
                sent = [*request[-2][1:], *request[-1][2::2]]
                args = self.decode(request[-2])
                kwargs = self.decode(request[-1])
                if op == "call":
                    result = target(*args, **kwargs)
                elif op == "method":
                    result = getattr(target, str(request[2]))(*args, **kwargs)
                else:
                    result = self._operator(target, str(request[2]), args)
                return self._reply(result, sent, [*args, *kwargs.values()])
            if op == "getattr":
                return self._reply(getattr(target, str(request[2])), [], [])
            if op == "setattr":
                setattr(target, str(request[2]), self.decode(request[3]))
                return self._reply(None, [], [])
            if op == "delattr":
                delattr(target, str(request[2]))
                return self._reply(None, [], [])
            raise wire.WireError(f"unknown request {op!r}")
        except BaseException as exc:  # noqa: BLE001 - everything the candidate raises goes to the judge
            try:
                return ["x", self.encode(exc), self._drain()]
            except BaseException as inner:  # noqa: BLE001 - an exception that cannot cross at all
                return ["x", ["e", ["B", "RuntimeError"], ["l", short_repr(inner, 300)], "", {}, "", {}], ""]

    @staticmethod
    def _operator(target: Any, name: str, args: list[Any]) -> Any:
        if name == "bool":
            return bool(target)
        if name == "repr":
            return repr(target)
        if name == "str":
            return str(target)
        if name == "dir":
            return dir(target)
        if not (name.startswith("__") and name.endswith("__")):
            raise wire.WireError(f"not an operator: {name!r}")
        return getattr(type(target), name)(target, *args)

    def _reply(self, value: Any, sent: list[Any], received: list[Any]) -> list[Any]:
        encoded = self.encode(value)
        changed = []
        for index, (before, after) in enumerate(zip(sent, received, strict=False)):
            if isinstance(after, (list, dict, set, bytearray)):
                now = self.encode(after)
                if now != before:
                    changed.append([index, now])
        return ["r", encoded, self._drain(), changed]

    def _drain(self) -> str:
        text = self.output.getvalue()
        self.output.seek(0)
        self.output.truncate()
        return text[-_OUTPUT_LIMIT:]

    def _load(self, name: str, code: str, path: str) -> dict[str, Any]:
        """Import the candidate module; its manifest: plain values, classes and functions by
        value or reference, everything else fetched when the judge first reads it."""
        with open(path, "w") as f:
            f.write(code)
        self.path = path
        # Compiled from the text itself, never from a bytecode cache a same-sized earlier
        # candidate may have left; the file is there for tracebacks and `inspect`.
        sys.dont_write_bytecode = True
        compiled = compile(code, path, "exec", dont_inherit=True)
        module = types.ModuleType(name)
        module.__file__ = path
        sys.modules[name] = module
        exec(compiled, module.__dict__)  # noqa: S102 - this process exists to run the candidate
        manifest: dict[str, Any] = {}
        for key, value in list(vars(module).items()):
            if key in _SKIP:
                continue
            if isinstance(value, (type, *_FUNCTIONS)) or _plain(value):
                try:
                    manifest[key] = self.encode(value)
                    continue
                except wire.WireError:
                    pass
            manifest[key] = ["lazy"]
        return {"ref": self._ref(module), "names": manifest}

    def serve(self) -> None:
        while True:
            request = wire.recv(self.peer.sock)
            if type(request) is not list or not request or request[0] != "q":
                return
            wire.send(self.peer.sock, self.handle(list(request[1:])))


def _plain(value: Any) -> bool:
    return isinstance(value, (str, bytes, int, float, complex, tuple, list, dict, set, frozenset, type(None)))


def _text(exc: BaseException) -> str:
    try:
        return str(exc)[:2000]
    except Exception:  # noqa: BLE001 - a __str__ that raises: no message
        return ""


# -- the forker and the candidate process ------------------------------------------------------
class Forker:
    """The worker's handle on its forker: a process forked before the worker read the tests."""

    def __init__(self) -> None:
        mine, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the forker
            try:
                ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                os.setsid()
                null = os.open(os.devnull, os.O_RDWR)
                for fd in (0, 1, 2):
                    os.dup2(null, fd)
                keep = sorted({0, 1, 2, theirs.fileno()})
                for low, high in zip(keep, [*keep[1:], 65536], strict=True):
                    os.closerange(low + 1, high)
                serve_forker(theirs)
            finally:
                os._exit(70)
        theirs.close()
        self.pid = pid
        self.control = mine

    def spawn(self, sock: socket.socket, out_fd: int, limits: dict[str, Any], directory: str) -> int:
        """A new candidate process holding `sock` (its end of the judge's socket); its pid."""
        request = json.dumps({"limits": limits, "dir": directory}).encode()
        socket.send_fds(self.control, [request], [sock.fileno(), out_fd])
        reply = self.control.recv(64)
        if not reply:
            raise OSError("the candidate forker is gone")
        return int(reply)

    def close(self) -> None:
        self.control.close()
        with contextlib.suppress(OSError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)


def serve_forker(control: socket.socket) -> None:  # pragma: no cover - runs in the forker process
    """Fork one candidate per request (`{"dir", "limits"}` plus the call socket and the output
    file as descriptors) and answer with its pid. Never returns."""
    signal.signal(signal.SIGCHLD, _reap)
    from greenloop.execute.landlock import abi_version, readable_roots

    abi_version(), readable_roots()  # worked out once here, inherited by every candidate
    while True:
        try:
            message, fds, _flags, _addr = socket.recv_fds(control, 65536, 2)
        except InterruptedError:
            continue
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)
        request = json.loads(message)
        pid = os.fork()
        if pid == 0:
            try:
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                _candidate(fds[0], fds[1], control.fileno(), request)
            finally:
                os._exit(70)
        for fd in fds:
            os.close(fd)
        control.send(str(pid).encode())


def _reap(_signum: int, _frame: Any) -> None:  # pragma: no cover - runs in the forker process
    with contextlib.suppress(ChildProcessError):
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass


def _candidate(call_fd: int, out_fd: int, control_fd: int, request: dict[str, Any]) -> None:  # pragma: no cover
    """The candidate process: confine, wait for the judge, serve. Never returns."""
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    os.setsid()
    os.close(control_fd)
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    keep = sorted({0, 1, 2, call_fd})
    for low, high in zip(keep, [*keep[1:], 65536], strict=True):
        os.closerange(low + 1, high)
    limits = request["limits"]
    memory = int(limits["memory_mb"]) * 1024 * 1024
    cpu = int(limits["cpu_seconds"])
    size = int(limits["file_size_mb"]) * 1024 * 1024
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    directory = str(request["dir"])
    os.makedirs(directory, exist_ok=True)
    os.chdir(directory)
    sys.path.insert(0, directory)
    from greenloop.execute.confine import confine_candidate
    from greenloop.execute.landlock import fence

    fence(directory)  # reads the system and Python only; writes here only; signals no one above it
    confine_candidate()
    sock = socket.socket(fileno=call_fd)
    server = Server(sock)
    sys.stdout = sys.stderr = server.output
    select.select([sock], [], [])
    try:
        server.serve()
    except (wire.PeerLost, OSError):
        pass
    os._exit(0)
