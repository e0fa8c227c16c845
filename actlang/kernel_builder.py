"""Builder processes for the kernel files of :mod:`actlang.kernel_cache`.

Kernels are built by builder processes (:func:`builder_command`: :func:`main` on SPEC files,
importing the same actlang as the requesting process), which keep running if the requesting
process exits, so the next process finds the file: :func:`build_many` runs them side by side and
waits; :func:`request` queues one in the background (one at a time per process) and returns at
once, and a process that exits hands the builds it still has queued to one builder process. A
lock file (the builder's pid) keeps concurrent processes from building the same kernel twice; a
dead builder's lock is taken over. A build that fails leaves a ``.failed`` file with the error,
which :func:`actlang.kernel_cache.failure` reports.
"""

from __future__ import annotations

import atexit
import os
import queue
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from actlang.kernel_cache import Kernel, build, failure, note_failure, path_of

_requested: set[str] = set()
# Background requests run one at a time on a daemon thread, which waits for each builder process
# in turn (a pool's worker thread held the process's exit until every queued build was done: 15 s
# after a 1 s script). At exit the builds still queued go to one builder process of their own,
# which outlives this one, as a running builder does (a new session): no requested work is lost.
_jobs: queue.SimpleQueue[Kernel | threading.Event] = queue.SimpleQueue()
# (pid, thread) of the thread that runs the queue: a forked child inherits the queue, not the thread.
_worker: list[tuple[int, threading.Thread]] = []
_worker_lock = threading.Lock()


def request(kernel: Kernel) -> None:
    """Build ``kernel`` in a background process unless its file exists, a build is under way
    (here or in another live process) or it failed before. Returns at once."""
    key = kernel.key
    if key in _requested or path_of(kernel).exists() or failure(kernel) is not None:
        return
    _requested.add(key)
    _submit(kernel)


def wait(timeout: float | None = None) -> None:
    """Wait until this process's background builds have ended (before timing a module, say);
    ``TimeoutError`` after ``timeout`` seconds."""
    done = threading.Event()
    _submit(done)
    if not done.wait(timeout):
        raise TimeoutError(f"actlang's background kernel builds still running after {timeout} s")


def _submit(job: Kernel | threading.Event) -> None:
    """Queue a build, or an event to set once the builds before it have ended, for the background
    thread (started on first use, and again in a forked child, which has no threads)."""
    with _worker_lock:
        if not _worker or not _worker[0][1].is_alive():
            _worker[:] = [(os.getpid(), threading.Thread(target=_work, name="actlang-kernel-build", daemon=True))]
            _worker[0][1].start()
    _jobs.put(job)


def _work() -> None:
    while True:
        job = _jobs.get()
        if isinstance(job, threading.Event):
            job.set()
        else:
            _run_builder(job)  # its errors come back as values (a .failed file, a noted failure)


@atexit.register
def _hand_over() -> None:
    """At exit: the builds still queued, to one builder process that builds them in turn (only
    in the process that queued them: a forked child that exits leaves them to its parent)."""
    if not _worker or _worker[0][0] != os.getpid():
        return
    kernels = []
    while not _jobs.empty():
        job = _jobs.get_nowait()
        if isinstance(job, threading.Event):
            job.set()
        else:
            kernels.append(job)
    specs = []
    for kernel in kernels:
        try:
            specs.append(_write_spec(kernel, "exit"))
        except OSError:
            continue  # an unwritable cache: nothing to build there
    if specs:
        quiet = subprocess.DEVNULL
        subprocess.Popen(builder_command(*specs), stdout=quiet, stderr=quiet, start_new_session=True)


def build_many(kernels: list[Kernel]) -> list[str | None]:
    """Build ``kernels`` now, in builder processes side by side (up to one per CPU), and wait:
    each kernel's error, or None once its file is there."""
    workers = max(1, min(len(kernels), os.cpu_count() or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="actlang-kernel-build") as pool:
        return list(pool.map(_run_builder, kernels))


def _run_builder(kernel: Kernel) -> str | None:
    """Run a builder process for ``kernel`` and wait for it; or, where another live process
    holds the kernel's lock, wait for that one. The error, or None once the file is there; a
    cache directory that cannot be written is an error too (noted for this process)."""
    target = path_of(kernel)
    lock = target.with_suffix(".lock")
    try:
        if not lock_held(lock):
            _start_builder(kernel, target)
    except OSError as error:
        why = (f"cannot write kernel files in {target.parent} ({type(error).__name__}: {error.strerror or error}); "
               "set ACTLANG_CACHE_DIR to a writable directory")  # fmt: skip
        note_failure(kernel, why)
        return why
    while lock_held(lock) and not target.exists():
        time.sleep(0.1)  # another process is building it
    if target.exists():
        return None
    return failure(kernel) or f"the kernel's builder process ended without it (log: {target.with_suffix('.log')})"


# The directory that holds this actlang package: a builder imports actlang from there first, so
# that it builds this process's code (a file's name hashes this code; a checkout put on sys.path
# by hand, or another actlang earlier on PYTHONPATH, would otherwise build another's).
_ROOT = str(Path(__file__).resolve().parent.parent)
_BOOT = (
    "import sys; sys.path.insert(0, sys.argv[1]); "
    "from actlang import kernel_builder; sys.exit(kernel_builder.main(sys.argv[2:]))"
)


def builder_command(*specs: Path) -> list[str]:
    """The command line of a builder process for the kernels described in ``specs`` (JSON files,
    built in turn)."""
    return [sys.executable, "-c", _BOOT, _ROOT, *map(str, specs)]


def _start_builder(kernel: Kernel, target: Path) -> None:
    """Run the builder process of ``kernel`` (whose file is ``target``) and wait for it."""
    spec = _write_spec(kernel, str(threading.get_ident()))
    log_file = target.with_suffix(".log")
    with open(log_file, "w") as log:
        # A new session: the build survives the requesting process, so its work is not lost.
        done = subprocess.run(
            builder_command(spec), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, check=False
        )
    spec.unlink(missing_ok=True)
    if done.returncode == 0:
        log_file.unlink(missing_ok=True)


def _write_spec(kernel: Kernel, tag: str) -> Path:
    """``kernel`` as a builder's SPEC file beside its kernel file (named by this pid and ``tag``)."""
    spec = path_of(kernel).with_suffix(f".{os.getpid()}.{tag}.json")
    spec.parent.mkdir(parents=True, exist_ok=True)
    spec.write_text(kernel.to_json())
    return spec


def _take(lock: Path) -> bool:
    """Create ``lock`` holding our pid; False while another live process holds it."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if lock_held(lock):
                return False
            lock.unlink(missing_ok=True)  # its builder died (kill -9): take over
            continue
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        return True
    return False


def lock_held(lock: Path) -> bool:
    """Whether a live process holds ``lock`` (a build under way); a dead builder's lock is not held."""
    try:
        os.kill(int(lock.read_text() or "0"), 0)
    except (ValueError, ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> int:
    """The builder (:func:`builder_command`; ``python -m actlang.kernel_builder SPEC ...`` by
    hand): each kernel in turn, under its lock (one another live builder holds is skipped). Each
    SPEC file is removed once read. 1 where a build failed (its ``.failed`` file says why)."""
    failed = 0
    for spec in map(Path, argv):
        kernel = Kernel.from_json(spec.read_text())
        spec.unlink(missing_ok=True)
        failed |= _build_one(kernel)
    return failed


def _build_one(kernel: Kernel) -> int:
    """Build ``kernel`` under its lock; 1 where the build failed (recorded in a ``.failed`` file
    for the requesting processes, which fall back)."""
    lock = path_of(kernel).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    if not _take(lock):
        return 0
    try:
        if not path_of(kernel).exists():
            build(kernel)
    except Exception as error:
        path_of(kernel).with_suffix(".failed").write_text(f"{type(error).__name__}: {error}")
        return 1
    finally:
        lock.unlink(missing_ok=True)
    path_of(kernel).with_suffix(".log").unlink(missing_ok=True)  # its output, kept only for a failure
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
