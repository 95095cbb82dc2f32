"""Commands mopstool prints (fixes, "try next", modern equivalents).

Every printed command starts with :func:`command_prefix`: ``mopstool`` and the
connection options the user gave, so it runs as printed against the same
databases when pasted.
"""

from __future__ import annotations

import re
import shlex
from typing import Any

_LEADING_MOPSTOOL = re.compile(r"(^|&&\s*|;\s*)mopstool ")


def quote(value: Any) -> str:
    return shlex.quote(str(value))


def command_prefix(*, db: str | None = None, pstamp_db: str | None = None, dbname: str | None = None,
                   config: str | None = None) -> str:
    """'mopstool' with the connection options the user gave."""
    parts = ["mopstool"]
    for opt, val in (("--db", db), ("--pstamp-db", pstamp_db), ("--dbname", dbname), ("--config", config)):
        if val:
            parts += [opt, quote(val)]
    return " ".join(parts)


def with_prefix(cmd: str | None, prefix: str) -> str | None:
    """*cmd* (a command line starting with plain 'mopstool', possibly several
    joined with && or ;) with every leading 'mopstool' replaced by *prefix*."""
    if not cmd or prefix == "mopstool":
        return cmd
    return _LEADING_MOPSTOOL.sub(lambda m: f"{m.group(1)}{prefix} ", cmd)
