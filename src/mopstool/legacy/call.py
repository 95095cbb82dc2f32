"""A parsed legacy command line and the option vocabulary of the mode table."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mopstool.errors import ExitCode, MopsError


#: chiptool's rawExp search options (pxchipSetSearchArgs / pxchipGetSearchArgs):
#: option -> (kind, rawExp column, operator). ra/decl options are degrees.
RAWEXP_TERMS: dict[str, tuple[str, str, str]] = {
    "exp_id": ("int", "exp_id", "="), "exp_name": ("str", "exp_name", "="),
    "inst": ("str", "camera", "="), "telescope": ("str", "telescope", "="),
    "dateobs_begin": ("time", "dateobs", ">="), "dateobs_end": ("time", "dateobs", "<="),
    "exp_tag": ("str", "exp_tag", "="), "exp_type": ("str", "exp_type", "="),
    "data_state": ("str", "state", "="), "filelevel": ("str", "filelevel", "="),
    "filter": ("str", "filter", "LIKE"), "object": ("str", "object", "LIKE"),
    "comment": ("str", "comment", "LIKE"), "comment-skip": ("str", "comment", "NOT LIKE"),
    "obs_mode": ("str", "obs_mode", "LIKE"),
}
for _c in ("airmass", "ra", "decl", "exp_time", "sat_pixel_frac", "bg", "bg_stdev", "bg_mean_stdev",
           "alt", "az", "ccd_temp", "posang", "sun_angle"):
    _k = "deg" if _c in ("ra", "decl") else "float"
    RAWEXP_TERMS[f"{_c}_min"] = (_k, _c, ">=")
    RAWEXP_TERMS[f"{_c}_max"] = (_k, _c, "<")


class LegacyError(MopsError):
    """An error of the legacy front; ``status`` is the exit status the C tool
    would give (pxerrors.c: PXTOOLS_ERR_CONFIG 3, PXTOOLS_ERR_SYS 2, other 1)."""

    def __init__(self, message: str, status: int = 3):
        super().__init__(message, ExitCode.USAGE)
        self.status = status


#: exit status of the C tools (psExit.h)
C_EXIT_UNKNOWN, C_EXIT_SYS, C_EXIT_CONFIG = 1, 2, 3


@dataclass(frozen=True)
class Opt:
    """One option a mode accepts.

    kind: str | int | float | deg | time | flag. ``multi``: may be repeated
    (PS_META_DUPLICATE_OK; the values are ORed). ``refuse``: the C tool accepts
    it but mopstool does not apply it; giving it is an error naming it, with
    exit status 3. ``choices``: allowed values (checked before anything runs).
    ``how`` says in one phrase how the option is applied (shown by --help)."""

    kind: str = "str"
    how: str = ""
    multi: bool = False
    refuse: str | None = None
    choices: tuple[str, ...] | None = None
    default: Any = None


@dataclass
class LegacyCall:
    tool: str
    mode: str
    opts: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)
    #: the option values as typed (before unit conversion), for the modern command
    raw: dict[str, Any] = field(default_factory=dict)
    #: root options to repeat in the printed modern command (--db URL ...)
    connection: list[str] = field(default_factory=list)

    def get(self, name, default=None):
        return self.opts.get(name, default)

    def has(self, name) -> bool:
        return name in self.opts

    def nonzero(self, name):
        """A numeric selector as the C tools read it (PXOPT_COPY_*): 0, their
        default, selects nothing (None)."""
        v = self.opts.get(name)
        return v if v else None

    def values(self, name) -> list:
        """The option's values as a list ([] when not given)."""
        v = self.opts.get(name)
        if v is None:
            return []
        return list(v) if isinstance(v, list) else [v]

    def typed(self, name) -> list[str]:
        v = self.raw.get(name)
        if v is None:
            return []
        return list(v) if isinstance(v, list) else [v]

    @property
    def command_line(self) -> str:
        return " ".join([self.tool] + self.argv)
