"""Ranges of the numeric options and arguments of every command.

:func:`bound` is applied to each parameter of the command tree once, when the
tree is built (``cli.main.polish``), so every command refuses the same way,
with one line on stderr and exit 2, before anything runs:

=====================================  =============================================
parameter                              accepted
=====================================  =============================================
ids (``--id``, ``--chip-id``, ...,     whole numbers 0 .. 2^63-1
``RUN_ID``, ``--req-id``, ``--fault``)
``--limit``, ``--parse-limit``         0 or more
``--batch-size``, ``--workers``        1 or more
any other whole number                 -2^63 .. 2^63-1
RA (``--ra``, ``--ra-min/max``)        0 .. 360 degrees
Dec (``--dec``, ``--decl-min/max``)    -90 .. 90 degrees
any other number                       finite (no nan, inf)
=====================================  =============================================
"""

from __future__ import annotations

import math
from typing import Any, get_args

from mopstool.errors import UsageError
from mopstool.util import INT64_MAX, INT64_MIN

_AT_LEAST_ONE = ("batch_size", "workers")
_NOT_NEGATIVE = ("limit", "parse_limit")
_RA = ("ra", "ra_min", "ra_max")
_DEC = ("dec", "decl_min", "decl_max")


def _is_id(name: str) -> bool:
    words = name.strip("_").split("_")
    return "id" in words or "ids" in words or name == "fault"


def _kind(param: Any) -> type | None:
    desc = getattr(param, "type_descriptor", None)
    ann = getattr(desc, "annotation", None)
    for t in (ann, *get_args(ann)):
        if t is bool:
            return None
        if t in (int, float):
            return t
    return None


def _range(name: str, kind: type) -> tuple[float, float, str]:
    if kind is int:
        if _is_id(name):
            return 0, INT64_MAX, "an id is a whole number from 0 to 2^63-1"
        if name in _NOT_NEGATIVE:
            return 0, INT64_MAX, "give 0 or more"
        if name in _AT_LEAST_ONE:
            return 1, INT64_MAX, "give 1 or more"
        return INT64_MIN, INT64_MAX, "a whole number within 64 bits"
    if name in _RA:
        return 0.0, 360.0, "RA is 0 to 360 degrees"
    if name in _DEC:
        return -90.0, 90.0, "Dec is -90 to 90 degrees"
    return -math.inf, math.inf, "a finite number"


def _label(param: Any) -> str:
    opts = [o for o in getattr(param, "opts", ()) if o.startswith("--")]
    if param.param_type_name == "option" and opts:
        return opts[0]
    return str(param.metavar or param.name).upper()


def _values(value: Any) -> list:
    if isinstance(value, (list, tuple)):
        return list(value)
    return [] if value is None else [value]


def bound(param: Any) -> None:
    """Make *param* refuse a value outside its range (see the module's table)."""
    kind = _kind(param)
    if kind is None or getattr(param, "_mopstool_bounded", False):
        return
    param._mopstool_bounded = True
    original = param.process_value
    low, high, rule = _range(param.name or "", kind)

    def process_value(ctx, value):
        label = _label(param)
        for raw in _values(value):
            if isinstance(raw, str):
                try:
                    kind(raw.strip())
                except ValueError:
                    word = "a whole number" if kind is int else "a number"
                    raise UsageError(f"{label}: {raw!r} is not {word}") from None
        value = original(ctx, value)
        for v in _values(value):
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if kind is float and not math.isfinite(v):
                    raise UsageError(f"{label}: {v} is not a finite number")
                if not low <= v <= high:
                    raise UsageError(f"{label}: {v} is out of range ({rule})")
        return value

    param.process_value = process_value
