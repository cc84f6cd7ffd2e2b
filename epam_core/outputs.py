"""Where outputs may go: checks shared by every command that writes a file or a folder.

* ``check_writable`` / ``make_parent``: whether the folder an output goes into can be made (not under a file,
  not read-only), checked before the long part of a command / created when writing.
* ``clean_leftovers``: the hidden ``.NAME.partial-PID-…`` / ``.NAME.old-PID-…`` siblings that an interrupted
  atomic write leaves behind (``atomic_dir`` / ``atomic_write_file`` below) are removed once the
  process that made them is gone; those of a live process are left alone and named in the log.
* ``check_replaceable`` / ``folder_problem``: whether an existing folder may be replaced (empty, or
  recognisably ours), checked before anything is written.

Nothing here deletes a file whose name our atomic writes could not have produced.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from epam_core.errors import OutputError, RunError

log = logging.getLogger(__name__)

# ".NAME.partial-PID-HEX8[SUFFIX]" and ".NAME.old-PID[-HEX8]", as ``_partial_name`` / ``atomic_dir`` name them
_LEFTOVER = re.compile(r"\.(partial-(?P<pid>\d+)-[0-9a-f]{8}|old-(?P<old>\d+)(-[0-9a-f]{8})?)")


def make_parent(path: Path) -> None:
    """Create ``path.parent`` (and its parents); an ``OutputError`` naming ``path`` when that cannot be done."""
    parent = path.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                raise OutputError(path, f"cannot be written: {ancestor} is a file, not a folder")
            break
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise OutputError(path, f"cannot be written: cannot create {parent} ({err.strerror})") from None


def check_writable(path: Path) -> None:
    """Whether ``path`` could be created, without creating anything: its nearest existing ancestor must be a
    writable folder. For commands to fail at once rather than after the long part; ``OutputError`` otherwise."""
    for ancestor in (path.parent, *path.parent.parents):
        if ancestor.exists() or ancestor.is_symlink():
            if not ancestor.is_dir():
                raise OutputError(path, f"cannot be written: {ancestor} is a file, not a folder")
            try:  # a real probe: os.access says yes to root even on /sys
                os.rmdir(tempfile.mkdtemp(prefix=".epam-probe-", dir=ancestor))
            except OSError as err:
                raise OutputError(
                    path, f"cannot be written: {ancestor} is not writable ({err.strerror})"
                ) from None
            return


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def leftovers(final: Path) -> list[tuple[Path, int]]:
    """(path, pid) of the hidden partial/old siblings of ``final`` that atomic writes leave after a crash."""
    parent, prefix = final.parent, f".{final.name}."
    if not parent.is_dir():
        return []
    found = []
    for entry in parent.iterdir():
        if not entry.name.startswith(prefix):
            continue
        match = _LEFTOVER.match(entry.name[len(prefix) - 1 :])
        if match is not None:
            found.append((entry, int(match.group("pid") or match.group("old"))))
    return sorted(found)


def clean_leftovers(final: Path) -> None:
    """Remove the leftovers of ``final`` whose writer has exited; name those of a running process."""
    for entry, pid in leftovers(final):
        if _alive(pid):
            log.warning("%s: left alone, process %d that is writing it still runs", entry, pid)
            continue
        try:
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()
        except OSError as err:
            log.warning("%s: leftover of an interrupted write, could not remove it (%s)", entry, err.strerror)
        else:
            log.warning("removed %s, left behind by an interrupted write (process %d)", entry, pid)


def check_replaceable(out_dir: Path, overwrite: bool, is_ours: Callable[[Path], bool], what: str) -> None:
    """Whether a new output folder may be written at ``out_dir``: absent, or (with ``overwrite``) empty or one
    of ours. ``OutputError`` for anything that is not ours, ``RunError`` for ours without ``overwrite``; also
    checks that ``out_dir`` can be created. Touches nothing."""
    if out_dir.exists() or out_dir.is_symlink():
        problem = folder_problem(out_dir, is_ours, what)
        if problem is not None:
            raise OutputError(out_dir, problem)
        if not overwrite:
            raise RunError(out_dir, "already exists; choose another --out or pass --overwrite")
    else:
        check_writable(out_dir)


def folder_problem(path: Path, is_ours: Callable[[Path], bool], what: str) -> str | None:
    """Why the existing ``path`` may not be replaced by a new output folder, or None when it may.

    A folder may be replaced when it is empty or ``is_ours`` recognises it (``what`` names that kind of
    folder in the message); a file, a symbolic link or anything else is refused.
    """
    if path.is_symlink():
        return "is a symbolic link; refusing to replace it (choose another --out)"
    if not path.is_dir():
        return "exists and is not a folder; refusing to replace it (choose another --out)"
    try:
        if not any(path.iterdir()) or is_ours(path):
            return None
    except OSError as err:
        return f"cannot be read ({err.strerror}); refusing to replace it"
    return (
        f"is not {what} written by epam; refusing to replace it or anything in it "
        "(choose another --out: --overwrite only replaces epam's own outputs)"
    )


def _partial_name(final: Path) -> Path:
    """A hidden, unique sibling of ``final`` to write into before the rename.

    Created with plain mkdir()/open() rather than mkdtemp()/mkstemp(), so the result gets the permissions
    the umask gives any other file (mkstemp/mkdtemp would leave it 0600/0700).
    """
    return final.with_name(f".{final.name}.partial-{os.getpid()}-{uuid.uuid4().hex[:8]}{final.suffix}")


@contextmanager
def atomic_dir(
    out_dir: str | Path,
    overwrite: bool,
    is_ours: Callable[[Path], bool],
    what: str,
) -> Iterator[Path]:
    """Yield a hidden temporary directory that replaces ``out_dir`` when the block ends without error.

    An existing ``out_dir`` is replaced only with ``overwrite`` and only when it is empty or ``is_ours``
    recognises it as an output of ours (``what`` names that in the refusal); anything else is refused with an
    ``OutputError`` before anything is touched. Leftovers of an interrupted earlier write are cleaned.
    """
    out_dir = Path(out_dir)
    check_replaceable(out_dir, overwrite, is_ours, what)
    make_parent(out_dir)
    clean_leftovers(out_dir)
    tmp = _partial_name(out_dir)
    try:
        tmp.mkdir()
    except OSError as err:
        raise OutputError(out_dir, f"cannot be written ({err.strerror})") from None
    try:
        yield tmp
        if out_dir.exists() or out_dir.is_symlink():
            check_replaceable(out_dir, overwrite, is_ours, what)  # again: it may have appeared meanwhile
            old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}-{uuid.uuid4().hex[:8]}")
            out_dir.rename(old)
            tmp.rename(out_dir)
            shutil.rmtree(old)
        else:
            tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def atomic_write_file(path: str | Path, write: Any) -> Path:
    """Call ``write(tmp_path)`` and rename the result onto ``path`` (no half-written file on failure).

    The parent folder is created; an ``OutputError`` names ``path`` when it is a folder or cannot be written.
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(path, "is a folder; refusing to replace it with a file (choose another --out)")
    make_parent(path)
    clean_leftovers(path)
    tmp = _partial_name(path)
    try:
        tmp.touch(exist_ok=False)
    except OSError as err:
        raise OutputError(path, f"cannot be written ({err.strerror})") from None
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as err:
        tmp.unlink(missing_ok=True)
        if err.filename is not None and Path(err.filename) in (tmp, path):
            raise OutputError(path, f"cannot be written ({err.strerror})") from None
        raise
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path
