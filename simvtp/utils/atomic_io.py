"""All-or-nothing file writes: a reader, or a job resumed after ``kill -9``,
sees the old file or the new one, never a partial one.

A write goes to a temporary file in the same folder (named
``.{name}.{random}.pid{PID}.simvtp-tmp``), is flushed and fsynced, renamed
over the target, and the folder is fsynced. Temporaries left by a process
that died are removed by the next write in that folder.
"""
import os
import os.path as osp
import secrets
import shutil
from typing import Callable, IO

TMP_SUFFIX = '.simvtp-tmp'


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # e.g. EPERM: it exists, owned by someone else
        return True
    return True


def remove_stale_temporaries(directory: str) -> None:
    """Remove temporaries of writes whose process died (kill -9, OOM)."""
    try:
        names = os.listdir(directory)
    except OSError:
        return
    for name in names:
        if not name.endswith(TMP_SUFFIX):
            continue
        pid = name[:-len(TMP_SUFFIX)].rsplit('.pid', 1)[-1]
        if pid.isdigit() and int(pid) != os.getpid() \
                and not _pid_alive(int(pid)):
            path = osp.join(directory, name)
            try:
                if osp.isdir(path):
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
            except OSError:
                pass


def temporary_name(path: str) -> str:
    """A fresh temporary path next to ``path`` (not created)."""
    directory, name = osp.split(osp.abspath(path))
    token = secrets.token_hex(4)
    return osp.join(directory,
                    f'.{name}.{token}.pid{os.getpid()}{TMP_SUFFIX}')


def fsync_path(path: str) -> None:
    """fsync a file, or a folder's entry list (best effort for folders)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # e.g. Windows: folders cannot be opened
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def commit(tmp: str, path: str) -> None:
    """Make the finished temporary ``tmp`` the file ``path``, durably."""
    if osp.isfile(tmp):
        fsync_path(tmp)
    os.replace(tmp, path)
    fsync_path(osp.dirname(osp.abspath(path)))


def atomic_write(path: str, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` all-or-nothing: ``write(f)`` fills a temporary binary
    file in the same folder, which then replaces ``path``."""
    path = osp.abspath(osp.expanduser(str(path)))
    directory = osp.dirname(path)
    os.makedirs(directory, exist_ok=True)
    remove_stale_temporaries(directory)
    tmp = temporary_name(path)
    try:
        umask = os.umask(0)
        os.umask(umask)
        with open(tmp, 'xb') as f:
            os.fchmod(f.fileno(), 0o666 & ~umask)
            write(f)
            f.flush()
            os.fsync(f.fileno())
        commit(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def atomic_write_text(path: str, text: str) -> None:
    """:func:`atomic_write` of UTF-8 text."""
    atomic_write(path, lambda f: f.write(text.encode('utf-8')))
