"""Where output goes (issue 6 §1, §2, §4): atomic regular files, write-through for everything else, streaming stdout.

Device nodes are private (``os.mknod`` in a temp dir, root only): a test never touches the real ``/dev/null``.
"""
from __future__ import annotations

import io
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from jaccli.errors import OutputError, UsageError
from jaccli.io.sink import AtomicSink, ClosedPipe, StreamSink, open_sink, resolve_target
from conftest import SEED_CSV, assert_error

ROOT = Path(__file__).resolve().parent.parent
SEED_CSV_OUT = "J[0][0],J[0][1],J[1][0],J[1][1]\n48.0,0.0,0.0,12.0\n3.0,0.0,0.0,27.0\n"
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="mknod of a character device needs root")


def jaccli_process(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, "-m", "jaccli", *args], cwd=ROOT, env=env, **kwargs)


def char_device(tmp_path: Path, name: str, minor: int) -> Path:
    """A private node with the numbers of /dev/null (1,3) or /dev/full (1,7)."""
    node = tmp_path / name
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return node


# -- regular files: atomic --------------------------------------------------------------------------------------------

def test_file_commit(tmp_path):
    target = tmp_path / "out.json"
    with open_sink(str(target)) as sink:
        assert isinstance(sink, AtomicSink)
        sink.file.write(b"hello")
        sink.release()
        assert not target.exists()  # nothing at the path before commit, release or not
        sink.commit()
    assert target.read_bytes() == b"hello"
    assert os.listdir(tmp_path) == ["out.json"]
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask


def test_file_exception_leaves_existing_target_untouched(tmp_path):
    target = tmp_path / "out.csv"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with open_sink(str(target)) as sink:
            sink.file.write(b"new")
            raise RuntimeError("boom")
    assert target.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["out.csv"]


def test_file_without_commit_creates_nothing(tmp_path):
    with open_sink(str(tmp_path / "out.npy")) as sink:
        sink.file.write(b"data")
    assert os.listdir(tmp_path) == []


def test_file_keeps_an_existing_targets_mode(tmp_path):
    target = tmp_path / "secret.txt"
    target.write_bytes(b"old")
    target.chmod(0o600)
    with open_sink(str(target)) as sink:
        sink.file.write(b"new")
        sink.commit()
    assert target.stat().st_mode & 0o777 == 0o600


def test_missing_directory_and_directory_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="cannot write"):
        open_sink(str(tmp_path / "missing" / "out.txt"))
    with pytest.raises(UsageError, match="is a directory"):
        open_sink(str(tmp_path))
    with pytest.raises(UsageError, match="empty"):
        open_sink("")


# -- symlinks: the target is replaced, the link stays -----------------------------------------------------------------

def test_symlink_target_is_replaced_atomically_and_the_link_stays(jaccli, seed_csv, tmp_path):
    real = tmp_path / "data" / "result.csv"
    real.parent.mkdir()
    real.write_text("old")
    link = tmp_path / "latest.csv"
    link.symlink_to(Path("data") / "result.csv")  # relative, as people make them
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", link)
    assert result.exit_code == 0, result.stderr
    assert link.is_symlink() and os.readlink(link) == str(Path("data") / "result.csv")
    assert real.read_text() == SEED_CSV_OUT
    assert sorted(os.listdir(real.parent)) == ["result.csv"]  # the temp file lived beside the target


def test_symlink_with_dotdot_through_a_linked_directory(jaccli, seed_csv, tmp_path):
    """``..`` in a link climbs from the physical directory, as the kernel resolves it."""
    (tmp_path / "real" / "sub").mkdir(parents=True)
    (tmp_path / "alias").symlink_to(tmp_path / "real" / "sub")
    (tmp_path / "real" / "out.csv").write_text("old")
    (tmp_path / "real" / "sub" / "link.csv").symlink_to(Path("..") / "out.csv")
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", tmp_path / "alias" / "link.csv")
    assert result.exit_code == 0, result.stderr
    assert (tmp_path / "real" / "out.csv").read_text() == SEED_CSV_OUT
    assert (tmp_path / "real" / "sub" / "link.csv").is_symlink()


def test_dangling_symlink_creates_its_target(jaccli, seed_csv, tmp_path):
    link = tmp_path / "link.csv"
    link.symlink_to(tmp_path / "new.csv")
    assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", link).exit_code == 0
    assert link.is_symlink() and (tmp_path / "new.csv").read_text() == SEED_CSV_OUT


def test_failed_run_leaves_a_symlinks_target_untouched(jaccli, tmp_path):
    (tmp_path / "zeros.csv").write_text("0,1\n")
    (tmp_path / "real.csv").write_text("old")
    (tmp_path / "link.csv").symlink_to(tmp_path / "real.csv")
    result = jaccli("batch-jacobian", "sqrt(x)", tmp_path / "zeros.csv", "--strict", "-o", tmp_path / "link.csv")
    assert_error(result, 4, "non-finite")
    assert (tmp_path / "real.csv").read_text() == "old" and (tmp_path / "link.csv").is_symlink()
    assert sorted(os.listdir(tmp_path)) == ["link.csv", "real.csv", "zeros.csv"]


# -- not regular files: written through -------------------------------------------------------------------------------

def test_resolve_target_kinds(tmp_path):
    assert resolve_target(str(tmp_path / "new.txt")) == ("file", str(tmp_path / "new.txt"))
    assert resolve_target("/dev/stdout") == ("fd", 1)
    read_end, write_end = os.pipe()
    try:
        assert resolve_target(f"/dev/fd/{write_end}") == ("fd", write_end)
        assert resolve_target(f"/proc/self/fd/{write_end}") == ("fd", write_end)
    finally:
        os.close(read_end)
        os.close(write_end)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    assert resolve_target(str(fifo)) == ("stream", str(fifo))


@needs_root
def test_private_null_device_stays_a_device(jaccli, seed_csv, tmp_path):
    node = char_device(tmp_path, "null", 3)
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "json", "-o", node)
    assert (result.exit_code, result.stderr) == (0, "")
    mode = os.lstat(node).st_mode
    assert stat.S_ISCHR(mode) and os.lstat(node).st_rdev == os.makedev(1, 3)
    assert sorted(os.listdir(tmp_path)) == ["null", "seed.csv"]  # no temp file, no replacement


def _read_in_thread(path: Path) -> tuple[threading.Thread, list[bytes]]:
    got: list[bytes] = []

    def read() -> None:
        with open(path, "rb") as reader:
            got.append(reader.read())

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread, got


def test_fifo_reader_gets_the_bytes_and_the_fifo_stays(jaccli, seed_csv, tmp_path):
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    thread, got = _read_in_thread(fifo)
    result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", fifo)
    thread.join(timeout=30)
    assert result.exit_code == 0, result.stderr
    assert got == [SEED_CSV_OUT.encode()]
    assert stat.S_ISFIFO(os.lstat(fifo).st_mode)


def test_dev_fd_of_a_pipe(jaccli, seed_csv):
    """``-o >(gzip > out.gz)`` hands jaccli ``/dev/fd/63``: write through that descriptor."""
    read_end, write_end = os.pipe()
    try:
        result = jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", f"/dev/fd/{write_end}")
        assert result.exit_code == 0, result.stderr
        os.close(write_end)
        write_end = -1
        with os.fdopen(read_end, "rb") as reader:
            read_end = -1
            assert reader.read() == SEED_CSV_OUT.encode()
    finally:
        for fd in (read_end, write_end):
            if fd >= 0:
                os.close(fd)


def test_dev_stdout_keeps_append_mode(tmp_path):
    """Output to standard output's path with ``>> log``: written through descriptor 1, so the append survives.

    ``/dev/stdout`` is a link to ``/proc/self/fd/1``; the test makes its own such link in the temp directory, so the
    same path through ``/proc/self/fd`` is taken while no test ever names a real device as ``-o``."""
    stdout_link = tmp_path / "stdout"
    stdout_link.symlink_to("/proc/self/fd/1")
    log = tmp_path / "log.csv"
    log.write_text("earlier\n")
    with open(log, "ab") as out:
        child = jaccli_process("batch-jacobian", "x*x*x", "samples/seed.csv", "-f", "csv", "-o", str(stdout_link),
                               stdout=out, stderr=subprocess.PIPE)
        _, err = child.communicate(timeout=120)
    assert child.returncode == 0, err
    assert log.read_text() == "earlier\n" + SEED_CSV_OUT


def test_unix_socket(jaccli, seed_csv, tmp_path):
    path = str(tmp_path / "sock")
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(path)
    server.listen(1)
    got: list[bytes] = []

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            chunks = []
            while data := conn.recv(65536):
                chunks.append(data)
            got.append(b"".join(chunks))

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        assert jaccli("batch-jacobian", "x*x*x", seed_csv, "-f", "csv", "-o", path).exit_code == 0
        thread.join(timeout=30)
    finally:
        server.close()
    assert got == [SEED_CSV_OUT.encode()]


# -- the stream sink: held until the first release, then written as it comes -----------------------------------------

def test_stream_holds_until_release_then_streams():
    out = io.BytesIO()
    with open_sink(None, stdout=out) as sink:
        assert isinstance(sink, StreamSink)
        sink.file.write(b"head,")
        assert out.getvalue() == b""
        sink.release()
        assert out.getvalue() == b"head,"
        sink.file.write(b"more")
        sink.release()
        assert out.getvalue() == b"head,more"
        sink.commit()


def test_stream_error_before_release_writes_nothing_after_keeps_what_was_released():
    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        with open_sink("-", stdout=out) as sink:
            sink.file.write(b"abc")
            raise RuntimeError("boom")
    assert out.getvalue() == b""
    out = io.BytesIO()
    with pytest.raises(RuntimeError):
        with open_sink("-", stdout=out) as sink:
            sink.file.write(b"abc")
            sink.release()
            sink.file.write(b"def")  # written after the last release, but before the error: stays, as in a filter
            raise RuntimeError("boom")
    assert out.getvalue().startswith(b"abc")


class ClosedPipeStdout(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        raise BrokenPipeError(32, "Broken pipe")


class FullStdout(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        raise OSError(28, "No space left on device")


def test_closed_pipe_raises_closed_pipe_and_silences():
    silenced = []
    with open_sink(None, stdout=ClosedPipeStdout(), on_closed_pipe=lambda: silenced.append(True)) as sink:
        sink.file.write(b"abc")
        with pytest.raises(ClosedPipe):
            sink.commit()
    assert silenced == [True]


def test_full_output_is_an_output_error():
    with open_sink(None, stdout=FullStdout()) as sink:
        sink.file.write(b"abc")
        with pytest.raises(OutputError, match="No space left on device") as caught:
            sink.release()
    assert caught.value.exit_code == 3


# -- the real thing, in child processes --------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_npy(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("big") / "big.npy"
    np.save(path, np.random.default_rng(0).normal(size=(600_000, 2)))
    return path


def test_head_ends_the_run_early_and_quietly(big_npy):
    child = jaccli_process("batch-jacobian", "x*x*x", str(big_npy), "-f", "csv", "--parallel-iterations", "1000",
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert child.stdout is not None and child.stderr is not None
    assert child.stdout.readline() == b"J[0][0],J[0][1],J[1][0],J[1][1]\n"
    assert child.stdout.readline().count(b",") == 3
    child.stdout.close()  # like `| head -2`
    assert child.wait(timeout=120) == 0
    assert child.stderr.read() == b""
    child.stderr.close()


@needs_root
@pytest.mark.parametrize("how", ["stdout", "-o"])
def test_full_device_is_one_error_line_exit_3(tmp_path, how):
    full = char_device(tmp_path, "full", 7)
    args = ["batch-jacobian", "x*x*x", "samples/seed.csv", "-f", "csv"]
    if how == "-o":
        child = jaccli_process(*args, "-o", str(full), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    else:
        with open(full, "wb") as out:
            child = jaccli_process(*args, stdout=out, stderr=subprocess.PIPE)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 3, err
    lines = err.decode().splitlines()
    assert lines[0].startswith("Error: cannot write to ") and "No space left on device" in lines[0]
    assert all(line.startswith("  ") for line in lines[1:]) and "Traceback" not in err.decode()
    assert stat.S_ISCHR(os.lstat(full).st_mode)


def test_closed_stdout_is_one_error_line_exit_3():
    child = jaccli_process("batch-jacobian", "x*x*x", "samples/seed.csv", stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, preexec_fn=lambda: os.close(1))
    out, err = child.communicate(timeout=120)
    assert child.returncode == 3, err
    assert err.decode().splitlines()[0] == "Error: standard output is closed"
    assert "Traceback" not in err.decode()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
def test_sigterm_and_sighup_remove_the_temp_file(tmp_path, big_npy, signum):
    target = tmp_path / "out.csv"
    child = jaccli_process("batch-jacobian", "x*x*x", str(big_npy), "-f", "csv", "--parallel-iterations", "100",
                           "-o", str(target), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while not [p for p in os.listdir(tmp_path) if p.startswith(".jaccli-")]:
        assert child.poll() is None and time.monotonic() < deadline, "no temp file appeared"
        time.sleep(0.01)
    child.send_signal(signum)
    child.communicate(timeout=120)
    assert child.returncode == 128 + signum
    assert os.listdir(tmp_path) == []


# -- terminals ---------------------------------------------------------------------------------------------------------

def test_npy_to_a_terminal_is_refused_unless_o_is_given(tmp_path):
    import pty

    primary, secondary = pty.openpty()
    try:
        child = jaccli_process("batch-jacobian", "x*x*x", "samples/seed.csv", "-f", "npy", stdout=secondary,
                               stderr=subprocess.PIPE)
        _, err = child.communicate(timeout=120)
        assert child.returncode == 2
        assert err.decode().startswith("Error: refusing to write binary .npy data to a terminal\n  hint: ")
        out = tmp_path / "r.npy"
        child = jaccli_process("batch-jacobian", "x*x*x", "samples/seed.csv", "-f", "npy", "-o", str(out),
                               stdout=secondary, stderr=subprocess.PIPE)
        assert child.wait(timeout=120) == 0 and np.load(out).shape == (2, 2, 2)
        child.stderr.close()
    finally:
        os.close(primary)
        os.close(secondary)


def test_reading_a_terminal_says_so_on_stderr():
    import pty

    primary, secondary = pty.openpty()
    try:
        child = jaccli_process("batch-jacobian", "x*x*x", "-f", "csv", stdin=secondary, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
        os.write(primary, SEED_CSV.encode() + b"\x04")  # Ctrl-D ends the input
        out, err = child.communicate(timeout=120)
    finally:
        os.close(primary)
        os.close(secondary)
    assert child.returncode == 0, err
    assert "reading the batch from standard input" in err.decode()
    assert out.decode() == SEED_CSV_OUT


def test_stdout_streams_before_the_input_ends():
    """The first rows come out while standard input is still open: nothing waits for the end of the run."""
    child = jaccli_process("batch-jacobian", "x*x*x", "-f", "csv", "--parallel-iterations", "1000",
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    assert child.stdin is not None and child.stdout is not None
    rows = "".join(f"{i % 7},{i % 5}\n" for i in range(200_000)).encode()

    def feed() -> None:  # ~1.6 MB, and standard input stays open
        try:
            child.stdin.write(rows)
            child.stdin.flush()
        except (BrokenPipeError, ValueError):
            pass

    threading.Thread(target=feed, daemon=True).start()
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.extend([child.stdout.readline(), child.stdout.readline()]),
                              daemon=True)
    reader.start()
    reader.join(timeout=120)
    try:
        assert got == [b"J[0][0],J[0][1],J[1][0],J[1][1]\n", b"0.0,0.0,0.0,0.0\n"]
        assert child.poll() is None  # still running: its input has not ended
    finally:
        child.kill()
        child.wait()
