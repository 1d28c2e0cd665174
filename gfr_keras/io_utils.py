"""Atomic file writes: a temp file in the target folder, then a rename."""

import json
import os
import tempfile
from contextlib import contextmanager


@contextmanager
def atomic_path(path):
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    A crash or an exception leaves `path` as it was (never half-written).
    """
    path = os.fspath(path)
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the file normal permissions
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.remove(tmp)
        raise


def write_json_atomic(obj, path, **json_kwargs):
    """Write `obj` as JSON to `path` atomically."""
    with atomic_path(path) as tmp:
        with open(tmp, "w") as handle:
            json.dump(obj, handle, **json_kwargs)
            handle.flush()
            os.fsync(handle.fileno())


def save_figure_atomic(figure, path, dpi=100):
    """Save a matplotlib figure as PNG atomically (readers never see half a file)."""
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=dpi)
