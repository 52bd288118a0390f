"""The data directory is the server user's alone: made 0700, every file in it 0600.

It holds the SQLite database and its WAL (password and secret hashes, emails), mail
carrying verification tokens, the development key-encryption key and the demo
credentials. SQLite and the other libraries create their files with the process umask,
so the umask is set before any of them is opened; a directory made by someone else and
open to other users is refused in production, where it would expose all of that.
"""

import logging
import os
import stat
from pathlib import Path
from typing import Final

logger = logging.getLogger("openbell")

PRIVATE_UMASK: Final = 0o077
"""New files 0600 and directories 0700, whoever creates them in this process."""


class DataDirError(Exception):
    """The data directory is open to other users where that is refused."""


def secure_data_dir(path: Path, *, production: bool) -> None:
    """Make the process umask private and the data directory (0700 when made here).

    An existing directory open to other users is refused in production and reported in
    development, where a checkout's `var/` from an older version is common.
    """
    os.umask(PRIVATE_UMASK)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & 0o077:
        return
    message = (
        f"the data directory {path.resolve()} is open to other users (mode {mode:04o}); "
        f"run `chmod 700 {path.resolve()}`"
    )
    if production:
        raise DataDirError(message)
    logger.warning("%s: production refuses to start like this", message)
