"""The pieces of ``jaccli.io.sink`` that know about files: what ``-o PATH`` is, and a guarded writable file."""
from __future__ import annotations

import errno
import io
import os
import re
import socket
import stat
import tempfile
from typing import IO, BinaryIO, Callable

from jaccli.errors import OutputError, UsageError

#: Spools (text output's first pass, NPY of an unknown batch size, npz) stay in memory up to this size, then disk.
SPOOL_MAX_SIZE = 32 * 1024 * 1024
WRITE_BUFFER = 1024 * 1024
_COPY_BLOCK = 1024 * 1024
_PROC_FD = re.compile(r"/proc/(self|\d+)/fd")
_DESTINATION_HINT = "check where the output goes: -o PATH, or redirect standard output"
_PATH_HINT = "check the path and its permissions, or write somewhere else with -o"


class ClosedPipe(Exception):
    """The reader of the output went away (``| head``). Not an error: the CLI exits 0 without a message."""


def write_failed(name: str, exc: OSError) -> OutputError:
    reason = exc.strerror or str(exc)
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        hint = "free some space, or write somewhere else with -o"
    else:
        hint = _DESTINATION_HINT
    return OutputError(f"cannot write to {name}: {reason}", hint=hint)


# -- where a path leads -----------------------------------------------------------------------------------------------

def resolve_target(path: str) -> tuple[str, str | int]:
    """What ``-o path`` is: ``("file", final_path)``, ``("fd", n)``, ``("socket", path)`` or ``("stream", path)``.

    Symlinks are followed one by one. A link through ``/proc/self/fd`` (``/dev/stdout``, ``/dev/fd/N``) names one
    of our own file descriptors: it is written through that descriptor, so a shell's ``>>`` or pipe keeps working.
    """
    if path == "":
        raise UsageError("the output path is empty", hint="give a file name, or '-' for standard output")
    current = os.path.abspath(path)
    for _ in range(40):  # the kernel's own limit on symlink hops
        if not os.path.islink(current):
            break
        parent = os.path.realpath(os.path.dirname(current))
        match = _PROC_FD.fullmatch(parent)
        name = os.path.basename(current)
        if match and name.isdigit() and match.group(1) in ("self", str(os.getpid())):
            return "fd", int(name)
        # Join with the physical parent: a '..' in the link climbs from where the kernel would, not lexically.
        current = os.path.normpath(os.path.join(parent, os.readlink(current)))
    else:
        raise UsageError(f"cannot write '{path}': too many levels of symbolic links",
                         hint="the path's symbolic links form a loop; write somewhere else with -o")
    try:
        mode = os.stat(current).st_mode
    except FileNotFoundError:
        return "file", current
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror}", hint=_PATH_HINT) from None
    if stat.S_ISDIR(mode):
        raise UsageError(f"cannot write '{path}': it is a directory", hint="give a file name inside it")
    if stat.S_ISREG(mode):
        return "file", current
    return ("socket" if stat.S_ISSOCK(mode) else "stream"), current


# -- the atomic file ---------------------------------------------------------------------------------------------------


def open_stream(path: str, kind: str, target: str | int) -> BinaryIO:
    """A buffered writer on a device, FIFO, socket or one of our descriptors; never truncated, never replaced."""
    try:
        if kind == "fd":
            fd = os.dup(int(target))
        elif kind == "socket":
            sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                sock.connect(str(target))
            except OSError:
                sock.close()
                raise
            fd = sock.detach()
        else:
            fd = os.open(str(target), os.O_WRONLY | os.O_NOCTTY)  # a FIFO waits for its reader, like `> fifo`
    except OSError as exc:
        raise UsageError(f"cannot write '{path}': {exc.strerror}", hint=_PATH_HINT) from None
    return open(fd, "wb", buffering=WRITE_BUFFER)


class GuardedFile:
    """A binary file whose write errors become ``ClosedPipe`` / ``OutputError``, holding bytes until ``release``.

    ``hold``: bytes wait in memory until the first ``release()``; ``whole``: they wait (in a spool: memory, then an
    anonymous temp file) until ``release(final=True)``, and the file is seekable meanwhile — ``zipfile`` (``-f npz``)
    seeks back to patch its headers, and must produce the same bytes on a pipe as in a file.
    """

    def __init__(self, raw: BinaryIO, name: str, on_closed_pipe: Callable[[], None] | None,
                 hold: bool = False, whole: bool = False) -> None:
        self.raw, self.name, self.on_closed_pipe, self.whole = raw, name, on_closed_pipe, whole
        self.held: IO[bytes] | None = None
        if whole:
            self.held = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")
        elif hold:
            self.held = io.BytesIO()

    def write(self, data: bytes) -> int:
        if self.held is not None:
            return self.held.write(data)
        return self._call(self.raw.write, data)

    def seekable(self) -> bool:
        if self.held is not None:
            return self.whole
        return self.raw.seekable()

    def tell(self) -> int:
        if not self.seekable():
            raise OSError("not seekable")
        return self.held.tell() if self.held is not None else self._call(self.raw.tell)

    def seek(self, offset: int, whence: int = 0) -> int:
        if not self.seekable():
            raise OSError("not seekable")
        return self.held.seek(offset, whence) if self.held is not None else self._call(self.raw.seek, offset, whence)

    def release(self, final: bool = False) -> None:
        """Let the held bytes go (at the first call, or at the final one for ``whole``); flush."""
        if self.held is not None and (final or not self.whole):
            held, self.held = self.held, None
            held.seek(0)
            while block := held.read(_COPY_BLOCK):
                self._call(self.raw.write, block)
            held.close()
        self.flush()

    def drop(self) -> None:
        """Forget what is still held."""
        if self.held is not None:
            self.held.close()
            self.held = None

    def flush(self) -> None:
        if self.held is None:
            self._call(self.raw.flush)

    def _call(self, method: Callable[..., object], *args: object) -> int:
        try:
            out = method(*args)
        except BrokenPipeError:
            if self.on_closed_pipe is not None:
                self.on_closed_pipe()
            raise ClosedPipe() from None
        except OSError as exc:
            raise write_failed(self.name, exc) from None
        except ValueError as exc:  # a closed file object
            raise OutputError(f"cannot write to {self.name}: {exc}", hint=_DESTINATION_HINT) from None
        return out if isinstance(out, int) else 0
