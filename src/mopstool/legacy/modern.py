"""The modern mopstool command equivalent to a legacy call, printed on stderr.

Each printer returns the argument list after ``mopstool`` (root connection
options first); ``render`` quotes it for the shell. A printed command makes
the same change as the legacy call (tests run both on copies of one database).
"""

from __future__ import annotations

import shlex

from mopstool.legacy.call import LegacyCall
from mopstool.legacy.handlers import ID_OPT, SETTERS, STAGE


class _Args(list):
    def add(self, flag: str, values) -> None:
        if values is None or values is False:
            return
        if values is True:
            self.append(flag)
            return
        for v in values if isinstance(values, list) else [values]:
            self.extend([flag, str(v)])


def _req_flag(name: str) -> str:
    """The modern option of a pstamptool selector (the request id is --id)."""
    return "--id" if name == "req_id" else _flag(name)


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def render(call: LegacyCall, args: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in ["mopstool", *call.connection, *args])


#: chiptool rawExp option -> modern definebyquery option, where the name differs
_DEFINE_RENAMES = {"comment-skip": "--comment-skip"}


#: legacy options no definebyquery selector stands for (flags, connection, output)
_DEFINE_SKIP = ("unique", "all", "pretend", "simple", "set_mode", "registered", "dbname", "dbserver",
                "dbuser", "dbport", "random")


def _define_args(call: LegacyCall, a: _Args, renames: dict[str, str]) -> _Args:
    for name in call.opts:
        if name in SETTERS or name in _DEFINE_SKIP:
            continue
        a.add(renames.get(name) or _DEFINE_RENAMES.get(name, _flag(name)), call.typed(name))
    for name in SETTERS:
        a.add(_flag(name), call.typed(name))
    a.add("--unique", bool(call.get("unique")))
    a.add("--all", bool(call.get("all")))
    a.add("--dry-run" if call.get("pretend") else "--yes", True)
    return a


def definebyquery(call: LegacyCall) -> list[str]:
    a = _Args(["definebyquery"])
    if call.tool == "warptool":
        a.add("--stage", "warp")
        if not call.has("exp_type"):
            a.add("--exp-type", "any")
    return _define_args(call, a, {})


#: chiptool -definecopy's old-run selectors -> definebyquery's --copy-of-* options
_COPY_OF = {"label": "--copy-of-label", "data_group": "--copy-of-data-group", "state": "--copy-of-state"}


def definecopy(call: LegacyCall) -> list[str]:
    """chiptool -definecopy is definebyquery --copy: the old run's -label,
    -data_group, -state become --copy-of-*, the rawExp selectors stay."""
    return _define_args(call, _Args(["definebyquery", "--copy"]), _COPY_OF)


def updaterun(call: LegacyCall) -> list[str]:
    stage = STAGE[call.tool]
    a = _Args(["updaterun", stage])
    a.add("--id", call.typed(ID_OPT[stage]))
    for n in ("label", "state", "data_group", "dist_group", "set_state", "set_label", "set_data_group",
              "set_dist_group", "set_note"):
        a.add(_flag(n), call.typed(n))
    a.add("--dry-run" if call.get("pretend") else "--yes", True)
    return a


def setupdate(call: LegacyCall) -> list[str]:
    stage = STAGE[call.tool]
    a = _Args(["setupdate", stage])
    a.add(_flag(ID_OPT[stage]), call.typed(ID_OPT[stage]))
    a.add("--class-id", call.typed("class_id"))
    a.add("--skycell-id", call.typed("skycell_id"))
    if stage == "chip":
        a.add("--update-mode", call.typed("set_update_mode") or ["0"])
    a.add("--set-label", call.typed("set_label"))
    a.add("--yes", True)
    return a


def revert(call: LegacyCall, ids: list[int] | None = None) -> list[str] | None:
    """*ids*: the run ids the '=' -label resolved to. With -label and no ids the
    command is only known after the labels are resolved (None: printed then)."""
    if call.has("label") and ids is None:
        return None
    stage = STAGE[call.tool]
    a = _Args(["revert", stage])
    a.add("--id", [str(i) for i in ids] if ids is not None else call.typed(ID_OPT[stage]))
    a.add("--component", call.typed("class_id") or call.typed("skycell_id"))
    a.add("--fault", call.typed("fault"))
    a.add("--all", bool(call.get("all")))
    a.add("--delete-gone", True)
    if stage == "warp":
        a.add("--skyfiles-only", True)
    a.add("--yes", True)
    return a


def revertoverlap(call: LegacyCall, ids: list[int] | None = None) -> list[str] | None:
    if call.has("label") and ids is None:
        return None
    a = _Args(["revert", "warp"])
    a.add("--id", [str(i) for i in ids] if ids is not None else call.typed("warp_id"))
    a.add("--component", "overlap")
    a.add("--fault", call.typed("fault"))
    a.add("--all", bool(call.get("all")))
    a.add("--delete-gone", True)
    a.add("--yes", True)
    return a


def drop(call: LegacyCall) -> list[str]:
    a = _Args(["drop", "chip"])
    a.add("--chip-id", call.typed("chip_id"))
    a.add("--cam-id", call.typed("cam_id"))
    a.add("--class-id", call.typed("class_id"))
    a.add("--quality", call.typed("set_quality"))
    a.add("--yes", True)
    return a


def block(call: LegacyCall) -> list[str]:
    a = _Args(["labels", call.mode, *call.typed("label"), "--stage", STAGE[call.tool]])
    a.add("--yes", True)
    return a


def _listing_hint(call: LegacyCall) -> list[str]:
    stage = STAGE.get(call.tool)
    a = _Args(["runs", stage])
    a.add("--id", call.typed(ID_OPT[stage]))
    for n in ("label", "state", "data_group", "dist_group"):
        a.add(_flag(n), call.typed(n))
    a.add("--limit", call.typed("limit"))
    return a


def listrun(call: LegacyCall) -> list[str]:
    return _listing_hint(call)


def donecleanup(call: LegacyCall) -> list[str] | None:
    """chiptool -donecleanup compares -label with '=': printed only when the label
    has no LIKE wildcard (else the listing would widen)."""
    label = call.get("label")
    if label is not None and ("%" in label or "_" in label):
        return None
    a = _Args(["runs", "chip", "--state", "cleaned"])
    a.add("--label", call.typed("label"))
    a.add("--limit", call.typed("limit") or ["0"])    # chiptool: no limit unless -limit
    return a


def pendingcleanuprun(call: LegacyCall) -> list[str]:
    a = _Args(["cleanup", "--dry-run", "--stage", STAGE[call.tool]])
    a.add("--label", call.typed("label"))
    return a


_REQ_SELECTORS = {"req_id": "--id", "req_id_max": "--req-id-max", "state": "--state",
                  "label": "--label", "name": "--name", "fault": "--fault",
                  "not_req_id": "--not-req-id", "username": "--username", "reqType": "--req-type",
                  "timestamp_begin": "--timestamp-begin", "timestamp_end": "--timestamp-end"}
_REQ_SETTERS = {"set_state": "--set-state", "set_label": "--set-label", "set_fault": "--set-fault",
                "set_outProduct": "--set-out-product", "set_outdir": "--set-outdir",
                "set_uri": "--set-uri", "set_name": "--set-name", "set_username": "--set-username",
                "set_reqType": "--set-req-type"}


def updatereq(call: LegacyCall) -> list[str]:
    a = _Args(["pstamp-req", "update"])
    for n, flag in _REQ_SELECTORS.items():
        a.add(flag, call.typed(n))
    for n, flag in _REQ_SETTERS.items():
        if n == "set_fault" and not call.get(n):
            continue   # -set_fault 0 sets nothing in pstamptool
        a.add(flag, call.typed(n))
    a.add("--clear-fault", bool(call.get("clearfault")))
    a.add("--as-pstamptool", True)
    a.add("--yes", True)
    return a


def listreq(call: LegacyCall) -> list[str]:
    a = _Args(["pstamp-req", "list"])
    for n in ("req_id", "state", "label", "name"):
        a.add(_req_flag(n), call.typed(n))
    a.add("--limit", call.typed("limit"))
    return a


def revertreq(call: LegacyCall) -> list[str]:
    a = _Args(["pstamp-req", "revert", "--what", "requests"])
    for n in ("req_id", "label", "fault", "state"):
        a.add(_req_flag(n), call.typed(n))
    a.add("--as-pstamptool", True)
    a.add("--yes", True)
    return a


def revertjob(call: LegacyCall) -> list[str]:
    a = _Args(["pstamp-req", "revert", "--what", "jobs"])
    a.add("--id", call.typed("req_id"))
    a.add("--label", call.typed("label"))
    a.add("--fault", call.typed("fault"))
    a.add("--clear-fault-count", bool(call.get("clear_fault_count")))
    a.add("--yes", True)
    return a
