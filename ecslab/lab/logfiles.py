"""The lab's log files: rotated by size, so a long-running lab never fills the disk.

Used by both the client side (``ecslab.lab.manage`` rotates ``lab.log`` at each start) and the lab
process (its log handler, and the registry's log in ``ecslab.lab.registry``); a module of its own so
that neither imports the other for it.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

__all__ = ["LOG_BACKUPS", "LOG_LIMIT_BYTES", "rotate_log"]

LOG_LIMIT_BYTES = 2 * 1024 * 1024
"""A log file is rotated once it is this big; :data:`LOG_BACKUPS` old ones are kept."""
LOG_BACKUPS = 2


def rotate_log(path: Path, limit: int = LOG_LIMIT_BYTES, backups: int = LOG_BACKUPS) -> None:
    """``path`` to ``path.1`` (``.1`` to ``.2``...) once it is ``limit`` bytes; the oldest goes."""
    try:
        if path.stat().st_size < limit:
            return
    except OSError:
        return
    for number in range(backups, 0, -1):
        older = path.with_name(f"{path.name}.{number}")
        newer = path if number == 1 else path.with_name(f"{path.name}.{number - 1}")
        with contextlib.suppress(OSError):
            newer.replace(older)
