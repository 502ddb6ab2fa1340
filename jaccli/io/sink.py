"""Where the result bytes go: an atomic file, or standard output written only on success.

README "Command line" (``-o``): on any failure nothing is written — no file is created at the target, an existing file is
left untouched, and nothing reaches standard output. Writers therefore never see the real destination; they write
to ``Sink.file`` and the CLI calls ``commit()`` once everything succeeded::

    with open_sink(output_path) as sink:
        writer = make_writer("json", sink.file)
        ...                                  # any exception here: nothing is written
        sink.commit()                        # the only moment the destination changes

Output to a closed pipe (``jaccli ... | head``) must end quietly: ``commit()`` raises ``ClosedPipe``, which the CLI
turns into a silent exit with code 0.
"""
from __future__ import annotations

import os
import shutil
import stat
import sys
import tempfile
from typing import IO, BinaryIO, Callable, Optional

from jaccli.errors import UsageError

#: Standard output is buffered in memory up to this size, then in an anonymous temporary file, so memory stays flat
#: for big streamed outputs while an error mid-way still writes nothing.
SPOOL_MAX_SIZE = 32 * 1024 * 1024
_COPY_BLOCK = 1024 * 1024


class ClosedPipe(Exception):
    """The reader of standard output went away (``| head``). Not an error: the CLI exits 0 without a message."""


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


class Sink:
    """A binary destination that only becomes visible on ``commit()``.

    ``path`` None or ``'-'`` means standard output; ``stdout`` replaces ``sys.stdout.buffer`` (tests inject a
    ``BytesIO``), and ``on_closed_pipe`` replaces ``silence_stdout`` (by default it only runs when writing to the real
    ``sys.stdout``, never to an injected stream).
    """

    def __init__(
        self,
        path: Optional[str],
        *,
        stdout: Optional[BinaryIO] = None,
        on_closed_pipe: Optional[Callable[[], None]] = None,
    ) -> None:
        self.path = None if path in (None, "-") else path
        self._stdout = stdout
        self._on_closed_pipe = on_closed_pipe
        self._tmp_path: Optional[str] = None
        self._done = False
        if self.path is None:
            self.file: IO[bytes] = tempfile.SpooledTemporaryFile(max_size=SPOOL_MAX_SIZE, mode="w+b")
        else:
            self.file = self._open_temp(self.path)

    def _open_temp(self, path: str) -> IO[bytes]:
        """Create the temporary file next to ``path`` (same file system, so the final rename is atomic)."""
        if path == "":
            raise UsageError("the output path is empty", hint="give a file name, or '-' for standard output")
        if os.path.isdir(path):
            raise UsageError(f"cannot write '{path}': it is a directory", hint="give a file name inside it")
        directory = os.path.dirname(os.path.abspath(path))
        try:
            fd, self._tmp_path = tempfile.mkstemp(prefix=".jaccli-", suffix=".tmp", dir=directory)
        except OSError as exc:
            raise UsageError(
                f"cannot write '{path}': {exc.strerror}", hint="check that the directory exists and is writable"
            ) from None
        return os.fdopen(fd, "wb")

    # -- finishing -------------------------------------------------------------------------------------------------

    def commit(self) -> None:
        """Make the bytes visible: rename the temporary file onto the path, or copy the buffer to standard output.

        Raises ``ClosedPipe`` when standard output's reader has gone away.
        """
        if self._done:
            raise RuntimeError("the sink was already committed or aborted")
        self._done = True
        if self.path is None:
            self._commit_stdout()
        else:
            self._commit_file(self.path)

    def _commit_file(self, path: str) -> None:
        assert self._tmp_path is not None
        try:
            self.file.flush()
            os.fsync(self.file.fileno())  # the data must be on disk before the rename makes it visible
            os.chmod(self._tmp_path, _new_file_mode(path))
            self.file.close()
            os.replace(self._tmp_path, path)
        except BaseException as exc:
            self._remove_temp()
            if isinstance(exc, OSError):
                raise UsageError(f"cannot write '{path}': {exc.strerror}") from None
            raise
        self._tmp_path = None
        _fsync_directory(os.path.dirname(os.path.abspath(path)))

    def _commit_stdout(self) -> None:
        out = self._stdout if self._stdout is not None else sys.stdout.buffer
        try:
            # Text written earlier through sys.stdout (there should be none) must come first.
            if self._stdout is None:
                sys.stdout.flush()
            self.file.seek(0)
            shutil.copyfileobj(self.file, out, _COPY_BLOCK)
            out.flush()
        except BrokenPipeError:
            self._closed_pipe()
            raise ClosedPipe() from None
        finally:
            self.file.close()

    def _closed_pipe(self) -> None:
        if self._on_closed_pipe is not None:
            self._on_closed_pipe()
        elif self._stdout is None:
            silence_stdout()

    def abort(self) -> None:
        """Throw the bytes away; the destination is untouched. Safe to call more than once."""
        if self._done:
            return
        self._done = True
        self.file.close()
        self._remove_temp()

    def _remove_temp(self) -> None:
        if self._tmp_path is not None:
            try:
                self.file.close()
            finally:
                try:
                    os.unlink(self._tmp_path)
                except FileNotFoundError:
                    pass
                self._tmp_path = None

    # -- context manager: leaving without commit() (normally or by an exception) aborts ------------------------------

    def __enter__(self) -> "Sink":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.abort()


def open_sink(
    path: Optional[str],
    *,
    stdout: Optional[BinaryIO] = None,
    on_closed_pipe: Optional[Callable[[], None]] = None,
) -> Sink:
    """The ``Sink`` for ``-o PATH`` (None or ``'-'``: standard output); use it as a context manager."""
    return Sink(path, stdout=stdout, on_closed_pipe=on_closed_pipe)


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
