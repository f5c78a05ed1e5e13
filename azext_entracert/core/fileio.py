"""Reading input files with clear errors, atomic writes with modes, and cross-process locks.

Every file entracert writes goes through ``atomic_write``/``atomic_write_all``: the bytes land in a
temporary file in the target folder, created with the final mode (0600 for anything private, so
there is never a moment when a key is world-readable), flushed and fsynced, then renamed over the
target. A crash leaves either the old file or the new one, never half of either.
"""
import contextlib
import glob
import json
import os
import tempfile
import time
from pathlib import Path

from .errors import InputFileError, OutputError

PRIVATE = 0o600
PUBLIC = 0o644
SET_ASIDE_KEPT = 24 * 3600  # a damaged file set aside stays a day for a look (its tokens expire)


def read_input(path, *, what="file"):
    """Return the bytes of ``path``, or raise InputFileError saying why it cannot be read."""
    path = Path(path).expanduser()
    if not path.exists():
        raise InputFileError(
            f"The {what} '{path}' does not exist.",
            path=path,
            hint="Check the path (relative paths start in the current folder).",
        )
    if path.is_dir():
        raise InputFileError(
            f"The {what} '{path}' is a directory, not a file.", path=path,
            hint="Give the path of the file itself.")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputFileError(
            f"The {what} '{path}' cannot be read: {exc.strerror or exc}.",
            path=path,
            hint="Check its permissions (it must be readable by the current user).",
        ) from exc
    if not data.strip():
        raise InputFileError(
            f"The {what} '{path}' is empty.", path=path,
            hint="It may have been truncated by a failed copy; export it again.")
    return data


def check_writable(path, *, overwrite=False):
    """Refuse early, before any work, if ``path`` cannot be written as asked."""
    path = Path(path).expanduser()
    if path.is_dir():
        raise OutputError(f"The output path '{path}' is a directory.", path=path,
                          hint="Give a file name inside it.")
    if path.exists() and not overwrite:
        raise OutputError(f"The output file '{path}' already exists.", path=path,
                          hint="Choose another path, or pass --force to replace it.")
    parent = path.parent
    if not parent.is_dir():
        raise OutputError(f"The output folder '{parent}' does not exist.", path=path,
                          hint=f"Create it first (mkdir -p '{parent}') or choose another path.")
    return path


def atomic_write(path, data, *, mode=PUBLIC, overwrite=False):
    """Write ``data`` to ``path`` atomically with ``mode``; never replace unless ``overwrite``."""
    atomic_write_all([(path, data, mode)], overwrite=overwrite)


def atomic_write_all(files, *, overwrite=False):
    """Write several ``(path, bytes, mode)`` files as one unit: all or none.

    Every target is checked before anything is written; if a later rename fails, the files
    already placed are removed again (or, when they replaced an old file, that file is left as the
    rename made it, which is still a whole file).
    """
    targets = [(check_writable(path, overwrite=overwrite), data, mode)
               for path, data, mode in files]
    staged = []
    try:
        for path, data, mode in targets:
            staged.append((_stage(path, data, mode), path))
        placed = []
        try:
            for temp, path in staged:
                existed = path.exists()
                os.replace(temp, path)
                placed.append((path, existed))
        except OSError as exc:
            for path, existed in placed:
                if not existed:
                    with contextlib.suppress(OSError):
                        path.unlink()
            raise OutputError(f"Writing '{path}' failed: {exc.strerror or exc}.", path=path,
                              hint="Check free space and permissions of the folder.") from exc
    finally:
        for temp, _ in staged:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(temp)
    return [path for path, _, _ in targets]


def set_aside(path):
    """Rename a damaged ``path`` to ``path.corrupt-<epoch>`` (kept for a look); return the name."""
    path = Path(path)
    aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
    path.replace(aside)
    return aside


def leftovers(path, *, kept=SET_ASIDE_KEPT, now=None):
    """What interrupted writes of ``path`` left beside it: ``atomic_write``'s temporary files
    (a killed write leaves one, and it may hold a token) and set-aside copies older than ``kept``
    seconds. Remove them only while holding ``path``'s lock, when no write of it can be running."""
    path = Path(path)
    name = glob.escape(path.name)
    limit = (now or time.time()) - kept
    temporary = list(path.parent.glob(f".{name}.*.tmp"))
    old = [p for p in path.parent.glob(f"{name}.corrupt-*") if _mtime(p) <= limit]
    return temporary + old


def remove_files(paths):
    """Unlink ``paths``, ignoring those already gone; return how many were removed."""
    removed = 0
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
            removed += 1
    return removed


def _mtime(path):
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return float("inf")


def _stage(path, data, mode):
    try:
        fd, temp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise OutputError(f"Cannot create a file in '{path.parent}': {exc.strerror or exc}.",
                          path=path, hint="Check the folder's permissions.") from exc
    try:
        os.fchmod(fd, mode)  # before any byte lands, so a key is never readable by others
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError as exc:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise OutputError(f"Writing '{path}' failed: {exc.strerror or exc}.", path=path,
                          hint="Check free space and permissions of the folder.") from exc
    return temp


@contextlib.contextmanager
def file_lock(path, *, timeout=30):
    """Hold an exclusive cross-process lock on ``path`` (a ``.lock`` file beside the data).

    A missing folder is created readable by its owner only (0700): it holds the token cache.
    """
    import portalocker  # lazy: only commands that write shared state pay for it

    lock_path = Path(f"{path}.lock")
    # Non-blocking attempts polled until ``timeout``: a stuck holder yields an error, not a hang.
    lock = portalocker.Lock(str(lock_path), mode="a", timeout=timeout, check_interval=0.05,
                            flags=portalocker.LOCK_EX | portalocker.LOCK_NB)
    try:
        lock_path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        # Made private first: portalocker would create it with the umask's mode (often 0644).
        os.close(os.open(lock_path, os.O_WRONLY | os.O_CREAT, PRIVATE))
        lock.acquire()
    except portalocker.LockException as exc:
        raise OutputError(
            f"Another process has held the lock on '{path}' for over {timeout} s.", path=path,
            hint="Wait for the other entracert command to finish, then try again.") from exc
    except OSError as exc:  # the folder or the lock file cannot be made (not the lock held)
        raise OutputError(f"Cannot lock '{path}': {exc.strerror or exc}.", path=path,
                          hint=f"Check that '{lock_path.parent}' is a folder you may write to."
                          ) from exc
    try:
        yield
    finally:
        lock.release()


@contextlib.contextmanager
def locked_json_update(path, read):
    """Lock ``path``, yield the document ``read()`` returns for the caller to change, then
    replace the file atomically (0600) with it. An exception in the caller writes nothing."""
    with file_lock(path):
        data = read()
        yield data
        text = json.dumps(data, indent=2, sort_keys=True) + "\n"
        atomic_write(path, text.encode("utf-8"), mode=PRIVATE, overwrite=True)
