"""Where the result bytes go: an atomic file, or a stream (standard output, a device, a FIFO) written as it comes.

What the README's "Outputs" section promises for ``-o``. ``open_sink`` looks at what is at the path and picks one
of two sinks:

- ``AtomicSink``: a regular file, a path that does not exist yet, or a symlink to either. The bytes go to a temp
  file in the target's directory and ``commit()`` fsyncs and renames it over the target (a symlink's *target* is
  replaced, the link stays a link). On any failure nothing is created and an existing file is untouched.
- ``StreamSink``: standard output and everything that is not a regular file (character/block device, FIFO, socket,
  ``/dev/stdout``, ``/dev/fd/N``). Replacing those would destroy them (``/dev/null`` turned into a file), so the
  bytes are written through, in place. Until the caller's first ``release()`` (after the first chunk is computed
  and checked) they are held in memory, so an error found in the first chunk writes nothing; after that they
  stream, and an error ends the run with what was written staying written, as with any Unix filter.

Writers write to ``sink.file`` and never see the real destination::

    with open_sink(output_path) as sink:
        writer = make_writer("json", sink.file)
        ...                    # sink.release() after each chunk: the stream may show what is written so far
        sink.commit()          # the atomic file appears; the stream is flushed

A reader that goes away (``| head``) raises ``ClosedPipe``, which the CLI turns into a silent exit 0. Any other
write failure (disk full, standard output closed) is an ``OutputError`` (exit 3).
"""
from __future__ import annotations

import os
import secrets
import stat
import sys
from typing import IO, BinaryIO, Callable, cast

from jaccli.errors import OutputError, UsageError
from jaccli.io.stream import ClosedPipe, GuardedFile, open_stream, resolve_target, write_failed

_LIVE_TEMPS: set[str] = set()  # temp files not yet renamed or removed, for the SIGTERM/SIGHUP handler


def silence_stdout() -> None:
    """Point file descriptor 1 at ``/dev/null`` after a broken pipe.

    The Python docs' recipe for SIGPIPE: without it, the interpreter's final flush of ``sys.stdout`` at exit hits
    the closed pipe again and prints "Exception ignored ... BrokenPipeError" on standard error. Does nothing when
    ``sys.stdout`` has no real file descriptor (e.g. under click's CliRunner).
    """
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both OSError and ValueError
        return
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, fd)
    finally:
        os.close(devnull)


def _new_file_mode(path: str) -> int:
    """Permission bits for the result file.

    An existing target keeps its mode (replacing it must not widen a chmod 600 file); a new file gets what a shell
    redirect would give (0o666 minus the umask) instead of mkstemp's private 0o600.
    """
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except OSError:
        pass
    umask = os.umask(0)  # the only portable way to read the umask is to set it and put it back
    os.umask(umask)
    return 0o666 & ~umask


def _create_temp(path: str, directory: str) -> tuple[int, str]:
    """A new ``.jaccli-*.tmp`` beside the target, registered *before* it exists.

    A SIGTERM between creating a temp file and registering it would leak the file, and blocking the signal does
    not help: NumPy's worker threads may take it. Registered first, the handler can always remove it.
    """
    for _ in range(100):
        name = os.path.join(directory, f".jaccli-{secrets.token_hex(8)}.tmp")
        _LIVE_TEMPS.add(name)
        try:
            return os.open(name, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600), name
        except FileExistsError:
            _LIVE_TEMPS.discard(name)
        except OSError as exc:
            _LIVE_TEMPS.discard(name)
            raise UsageError(f"cannot write '{path}': {exc.strerror}",
                             hint="check that the directory exists and is writable") from None
    raise UsageError(f"cannot write '{path}': no free temporary file name in {directory}",
                     hint=f"remove stale .jaccli-*.tmp files from {directory}, or write somewhere else with -o")


class AtomicSink:
    """A regular file that only appears (or changes) on ``commit()``."""

    streaming = False

    def __init__(self, path: str, target: str) -> None:
        self.path, self.target = path, target
        self._done = False
        directory = os.path.dirname(target)
        remove_temps_on_signals()
        fd, self._tmp_path = _create_temp(path, directory)
        self._tmp: str | None = self._tmp_path
        self.guarded = GuardedFile(os.fdopen(fd, "wb"), f"'{path}'", None)
        self.file = cast(IO[bytes], self.guarded)  # writers only call write()

    def release(self) -> None:
        """Nothing to show before the commit: an atomic file is all or nothing."""

    def commit(self) -> None:
        if self._done:
            raise RuntimeError("the sink was already committed or aborted")
        self._done = True
        raw = self.guarded.raw
        try:
            self.file.flush()
            os.fsync(raw.fileno())  # the data must be on disk before the rename makes it visible
            os.chmod(self._tmp_path, _new_file_mode(self.target))
            raw.close()
            os.replace(self._tmp_path, self.target)
        except BaseException as exc:
            self._remove_temp()
            if isinstance(exc, OSError):
                raise write_failed(f"'{self.path}'", exc) from None
            raise
        _LIVE_TEMPS.discard(self._tmp_path)
        self._tmp = None
        _fsync_directory(os.path.dirname(self.target))

    def abort(self) -> None:
        if self._done:
            return
        self._done = True
        self._remove_temp()

    def _remove_temp(self) -> None:
        if self._tmp is None:
            return
        try:
            self.guarded.raw.close()
        finally:
            try:
                os.unlink(self._tmp)
            except FileNotFoundError:
                pass
            _LIVE_TEMPS.discard(self._tmp)
            self._tmp = None

    def __enter__(self) -> "AtomicSink":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


# -- the stream --------------------------------------------------------------------------------------------------------

class StreamSink:
    """Standard output or a non-regular ``-o`` target, written through in place."""

    streaming = True

    def __init__(self, out: BinaryIO, name: str, *, owned: bool,
                 on_closed_pipe: Callable[[], None] | None, whole: bool = False) -> None:
        self._owned, self._done = owned, False
        self.guarded = GuardedFile(out, name, on_closed_pipe, hold=True, whole=whole)
        self.file = cast(IO[bytes], self.guarded)  # writers only call write()

    def release(self) -> None:
        """From now on the bytes may be seen: write what is held and flush."""
        self.guarded.release()

    def commit(self) -> None:
        if self._done:
            raise RuntimeError("the sink was already committed or aborted")
        self.guarded.release(final=True)
        self._done = True
        self._close()

    def abort(self) -> None:
        """Drop what is still held; what was released stays written (flushed, best effort)."""
        if self._done:
            return
        self._done = True
        self.guarded.drop()
        try:
            self.guarded.flush()
        except (ClosedPipe, OutputError):
            pass
        finally:
            self._close()

    def _close(self) -> None:
        if self._owned:
            try:
                self.guarded.raw.close()
            except OSError:
                pass

    def __enter__(self) -> "StreamSink":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


Sink = AtomicSink | StreamSink


def _stdout_buffer() -> BinaryIO:
    if sys.stdout is None or not hasattr(sys.stdout, "buffer"):  # `jaccli ... >&-`: Python sets sys.stdout None
        raise OutputError("standard output is closed", hint="redirect it (> FILE), or write to a file with -o FILE")
    sys.stdout.flush()  # anything written through sys.stdout (there should be none) comes first
    return sys.stdout.buffer


def open_sink(
    path: str | None,
    *,
    stdout: BinaryIO | None = None,
    on_closed_pipe: Callable[[], None] | None = None,
    whole: bool = False,
) -> Sink:
    """The sink for ``-o PATH`` (None or ``'-'``: standard output); use it as a context manager.

    ``stdout`` replaces ``sys.stdout.buffer`` (tests inject a ``BytesIO``); ``on_closed_pipe`` replaces
    ``silence_stdout``, which by default runs only for the real standard output. ``whole``: a stream gets the
    bytes only at ``commit()``, from a seekable spool (``-f npz``: zipfile patches its headers in place).
    """
    if path in (None, "-"):
        if stdout is not None:
            return StreamSink(stdout, "standard output", owned=False, on_closed_pipe=on_closed_pipe, whole=whole)
        return StreamSink(_stdout_buffer(), "standard output", owned=False,
                          on_closed_pipe=on_closed_pipe or silence_stdout, whole=whole)
    assert path is not None
    kind, target = resolve_target(path)
    if kind == "file":
        return AtomicSink(path, str(target))
    return StreamSink(open_stream(path, kind, target), f"'{path}'", owned=True, on_closed_pipe=on_closed_pipe,
                      whole=whole)


def _fsync_directory(directory: str) -> None:
    """Persist the rename itself; best effort, since some platforms cannot open a directory."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


class _Terminated(SystemExit):
    """Raised by the SIGTERM/SIGHUP handler so that ``with`` blocks unwind and remove temp files, as on Ctrl-C."""


def _raise_terminated(signum: int, frame: object) -> None:
    # Remove the temp files here too: the signal may land where no `with` block protects them yet.
    for path in list(_LIVE_TEMPS):
        try:
            os.unlink(path)
        except OSError:
            pass
        _LIVE_TEMPS.discard(path)
    raise _Terminated(128 + signum)


def remove_temps_on_signals() -> None:
    """SIGTERM and SIGHUP unwind the stack (exit 128+signal) instead of killing the process where it stands.

    Without this a ``kill -TERM`` left ``.jaccli-*.tmp`` files beside the target. Installed by the first
    ``AtomicSink`` (idempotent; a handler someone else set is left alone). Only the main thread may set handlers;
    elsewhere (a test runner's worker thread) this does nothing.
    """
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGHUP):
        if signal.getsignal(signum) in (signal.SIG_DFL, None):
            signal.signal(signum, _raise_terminated)
