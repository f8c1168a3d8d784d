"""Landlock: what a candidate process may touch on the filesystem, and whom it may signal.

Inside the sandbox every process runs as the same uid, so file modes and signal permissions do not
separate a candidate from the worker, the judge or another pool's files in the shared `/tmp`.
Landlock (Linux >= 5.13; signal and abstract-socket scoping >= 6.12) lets an unprivileged process
restrict itself and every process it will start, irrevocably:
- read and execute only the system and Python directories the sandbox binds;
- write only its own directory (and `/dev/null`);
- send signals and connect to abstract unix sockets only within its own domain, so it cannot
  stop, kill or talk to the trusted processes above it.

Three system calls and two structures of the kernel's UAPI (`linux/landlock.h`) are all it takes;
the one Python binding on PyPI is an alpha release that finds libc by running `ldconfig`, so this
module calls them through ctypes directly.
"""

from __future__ import annotations

import ctypes
import functools
import os
from collections.abc import Iterable

_CREATE_RULESET, _ADD_RULE, _RESTRICT_SELF = 444, 445, 446  # the same number on every architecture
_CREATE_RULESET_VERSION = 1
_RULE_PATH_BENEATH = 1
_PR_SET_NO_NEW_PRIVS = 38

# Filesystem rights, by the ABI version that introduced them.
EXECUTE, WRITE_FILE, READ_FILE, READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
REMOVE_DIR, REMOVE_FILE, MAKE_CHAR, MAKE_DIR, MAKE_REG = 1 << 4, 1 << 5, 1 << 6, 1 << 7, 1 << 8
MAKE_SOCK, MAKE_FIFO, MAKE_BLOCK, MAKE_SYM = 1 << 9, 1 << 10, 1 << 11, 1 << 12
REFER, TRUNCATE, IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15  # ABI 2, 3, 5
_FS_BY_ABI = {1: (1 << 13) - 1, 2: (1 << 14) - 1, 3: (1 << 15) - 1, 4: (1 << 15) - 1, 5: (1 << 16) - 1}
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1  # ABI 6

READ = EXECUTE | READ_FILE | READ_DIR
WRITE = WRITE_FILE | REMOVE_DIR | REMOVE_FILE | MAKE_DIR | MAKE_REG | MAKE_SOCK | MAKE_FIFO | MAKE_SYM | REFER \
    | TRUNCATE


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64), ("handled_access_net", ctypes.c_uint64),
                ("scoped", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1  # __attribute__((packed)) in the UAPI header
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


@functools.lru_cache(maxsize=1)
def _libc() -> ctypes.CDLL:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    return libc


@functools.lru_cache(maxsize=1)
def abi_version() -> int:
    """The Landlock ABI this kernel offers; 0 when Landlock is missing or switched off."""
    version = _libc().syscall(ctypes.c_long(_CREATE_RULESET), None, ctypes.c_size_t(0),
                           ctypes.c_uint32(_CREATE_RULESET_VERSION))
    return max(0, int(version))


def _fs_rights(abi: int) -> int:
    return _FS_BY_ABI.get(abi, (1 << 16) - 1)


class LandlockError(OSError):
    pass


def restrict(read: Iterable[str], write: Iterable[str], *, write_files: Iterable[str] = ()) -> int:
    """Confine this process and its future children: `read` (and execute) beneath those paths,
    everything beneath `write`, and write (not create) the files `write_files`; where the kernel
    can, no signals or abstract-socket connections outside this process's own domain. Paths that
    do not exist are skipped. Returns the ABI used (0: Landlock unavailable, nothing restricted).
    Call it from a single-threaded process: other threads would stay unrestricted."""
    abi = abi_version()
    if abi == 0:
        return 0
    handled = _fs_rights(abi)
    attr = _RulesetAttr(handled, 0, (SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL) if abi >= 6 else 0)
    size = ctypes.sizeof(_RulesetAttr) if abi >= 6 else 8  # older kernels reject fields they do not know
    libc = _libc()
    ruleset = libc.syscall(ctypes.c_long(_CREATE_RULESET), ctypes.byref(attr), ctypes.c_size_t(size),
                           ctypes.c_uint32(0))
    if ruleset < 0:
        raise LandlockError(ctypes.get_errno(), f"landlock_create_ruleset: {os.strerror(ctypes.get_errno())}")
    try:
        rules = [(p, READ) for p in read] + [(p, READ | WRITE) for p in write] + \
            [(p, READ_FILE | WRITE_FILE | TRUNCATE) for p in write_files]
        for path, rights in rules:
            _add(libc, ruleset, path, rights & handled)
        if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise LandlockError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if libc.syscall(ctypes.c_long(_RESTRICT_SELF), ctypes.c_int(ruleset), ctypes.c_uint32(0)) != 0:
            raise LandlockError(ctypes.get_errno(), f"landlock_restrict_self: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(ruleset)
    return abi


@functools.lru_cache(maxsize=1)
def readable_roots() -> tuple[str, ...]:
    """What sandboxed code may read: the system and Python directories the sandbox binds, `/proc`
    (its own entries; other processes' are guarded by their non-dumpable flag) and `/dev`. Never
    `/tmp`, where the worker keeps the tests and other pools keep theirs."""
    from greenloop.execute.sandbox import SYSTEM_DIRS, python_dirs

    return (*SYSTEM_DIRS, *python_dirs(), "/proc", "/dev")


def fence(directory: str) -> int:
    """Confine this process to `directory` for writing (and as its temporary directory), and to
    `readable_roots()` for reading. The ABI in force, 0 where the kernel has no Landlock."""
    import tempfile

    os.environ["TMPDIR"] = directory
    tempfile.tempdir = directory
    return restrict(readable_roots(), [directory], write_files=[os.devnull])


def _add(libc: ctypes.CDLL, ruleset: int, path: str, rights: int) -> None:
    try:
        fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
    except OSError:
        return  # not there: nothing to allow
    try:
        if not os.path.isdir(path):
            # Directory-only rights on a file are refused by the kernel (EINVAL).
            rights &= EXECUTE | WRITE_FILE | READ_FILE | TRUNCATE | IOCTL_DEV
        beneath = _PathBeneathAttr(rights, fd)
        if libc.syscall(ctypes.c_long(_ADD_RULE), ctypes.c_int(ruleset), ctypes.c_int(_RULE_PATH_BENEATH),
                        ctypes.byref(beneath), ctypes.c_uint32(0)) != 0:
            raise LandlockError(ctypes.get_errno(), f"landlock_add_rule {path}: {os.strerror(ctypes.get_errno())}")
    finally:
        os.close(fd)
