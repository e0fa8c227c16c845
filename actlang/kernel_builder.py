"""Builder processes for the kernel files of :mod:`actlang.kernel_cache`.

Kernels are built by builder processes (:func:`builder_command`: :func:`main` on a SPEC file,
importing the same actlang as the requesting process), which keep running if the requesting
process exits, so the next process finds the file: :func:`build_many` runs them side by side and
waits; :func:`request` queues one in the background (one at a time
per process) and returns at once. A lock file (the builder's pid) keeps concurrent processes from
building the same kernel twice; a dead builder's lock is taken over. A build that fails leaves a
``.failed`` file with the error, which :func:`actlang.kernel_cache.failure` reports.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from actlang.kernel_cache import Kernel, build, failure, note_failure, path_of

_queue = ThreadPoolExecutor(max_workers=1, thread_name_prefix="actlang-kernel-build")
_requested: set[str] = set()


def request(kernel: Kernel) -> None:
    """Build ``kernel`` in a background process unless its file exists, a build is under way
    (here or in another live process) or it failed before. Returns at once."""
    key = kernel.key
    if key in _requested or path_of(kernel).exists() or failure(kernel) is not None:
        return
    _requested.add(key)
    _queue.submit(_run_builder, kernel)


def wait(timeout: float | None = None) -> None:
    """Wait until this process's background builds have ended (before timing a module, say)."""
    _queue.submit(lambda: None).result(timeout=timeout)


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
        if not _alive(lock):
            _start_builder(kernel, target)
    except OSError as error:
        why = (f"cannot write kernel files in {target.parent} ({type(error).__name__}: {error.strerror or error}); "
               "set ACTLANG_CACHE_DIR to a writable directory")  # fmt: skip
        note_failure(kernel, why)
        return why
    while _alive(lock) and not target.exists():
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


def builder_command(spec: Path) -> list[str]:
    """The command line of a builder process for the kernel described in ``spec`` (JSON)."""
    return [sys.executable, "-c", _BOOT, _ROOT, str(spec)]


def _start_builder(kernel: Kernel, target: Path) -> None:
    """Run the builder process of ``kernel`` (whose file is ``target``) and wait for it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    spec = target.with_suffix(f".{os.getpid()}.{threading.get_ident()}.json")
    spec.write_text(kernel.to_json())
    log_file = target.with_suffix(".log")
    with open(log_file, "w") as log:
        # A new session: the build survives the requesting process, so its work is not lost.
        done = subprocess.run(
            builder_command(spec), stdout=log, stderr=subprocess.STDOUT, start_new_session=True, check=False
        )
    spec.unlink(missing_ok=True)
    if done.returncode == 0:
        log_file.unlink(missing_ok=True)


def _take(lock: Path) -> bool:
    """Create ``lock`` holding our pid; False while another live process holds it."""
    for _ in range(2):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            if _alive(lock):
                return False
            lock.unlink(missing_ok=True)  # its builder died (kill -9): take over
            continue
        with os.fdopen(fd, "w") as out:
            out.write(str(os.getpid()))
        return True
    return False


def _alive(lock: Path) -> bool:
    try:
        os.kill(int(lock.read_text() or "0"), 0)
    except (ValueError, ProcessLookupError, FileNotFoundError):
        return False
    except PermissionError:
        return True
    return True


def main(argv: list[str]) -> int:
    """The background builder (:func:`builder_command`; ``python -m actlang.kernel_builder SPEC``
    by hand). It holds the
    kernel's lock while it builds (a second builder of the same kernel exits at once)."""
    kernel = Kernel.from_json(Path(argv[0]).read_text())
    lock = path_of(kernel).with_suffix(".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    if not _take(lock):
        return 0
    try:
        if not path_of(kernel).exists():
            build(kernel)
    except Exception as error:  # recorded for the requesting processes, which fall back
        path_of(kernel).with_suffix(".failed").write_text(f"{type(error).__name__}: {error}")
        return 1
    finally:
        lock.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
