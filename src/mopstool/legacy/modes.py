"""The compatibility front: the C tools' single-dash recipes.

``parse(tool, argv)`` checks the IPP option syntax (exactly one mode, known
options, repeated -label ORed, the IPP's '=' or LIKE per option) and returns a
``LegacyCall``; ``run(call, dbs, cfg)`` executes it through the same ops code
as the modern command and returns rows for the IPP text output (MDC blocks or
-simple lines, see ``format_mdc``/``format_simple``).
"""

from __future__ import annotations

import math
import shlex
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Callable

from sqlalchemy import and_, func, literal, or_, select

from mopstool.db import schema
from mopstool.errors import UsageError

S64_NULL = 9223372036854775807
S16_NULL = 32767
S32_NULL = 2147483647

# ------------------------------------------------------------------ option vocabulary
# kind: str | int | float | time | flag ; op: '=' | 'LIKE' | '>=' | '<=' | '<' | '>'
GENERIC = {"dbname": "str", "dbserver": "str", "dbuser": "str", "dbpassword": "str",
           "dbport": "int", "simple": "flag", "limit": "int", "all": "flag", "pretend": "flag"}

#: rawExp search terms shared by chiptool modes (pxchipSetSearchArgs)
RAWEXP_TERMS: dict[str, tuple[str, str, str]] = {
    "exp_id": ("int", "exp_id", "="), "exp_name": ("str", "exp_name", "="),
    "inst": ("str", "camera", "="), "telescope": ("str", "telescope", "="),
    "dateobs_begin": ("time", "dateobs", ">="), "dateobs_end": ("time", "dateobs", "<="),
    "exp_tag": ("str", "exp_tag", "="), "exp_type": ("str", "exp_type", "="),
    "filelevel": ("str", "filelevel", "="), "filter": ("str", "filter", "LIKE"),
    "object": ("str", "object", "LIKE"), "comment": ("str", "comment", "LIKE"),
    "comment-skip": ("str", "comment", "NOT LIKE"), "obs_mode": ("str", "obs_mode", "LIKE"),
    "data_state": ("str", "state", "="),
}
for _c in ("airmass", "exp_time", "sat_pixel_frac", "bg", "bg_stdev", "bg_mean_stdev", "alt", "az",
           "ccd_temp", "posang", "sun_angle"):
    RAWEXP_TERMS[f"{_c}_min"] = ("float", _c, ">=")
    RAWEXP_TERMS[f"{_c}_max"] = ("float", _c, "<")
for _c in ("ra", "decl"):
    RAWEXP_TERMS[f"{_c}_min"] = ("deg", _c, ">=")
    RAWEXP_TERMS[f"{_c}_max"] = ("deg", _c, "<")

MULTI_OK = {"label", "data_group", "dist_group"}


@dataclass
class LegacyCall:
    tool: str
    mode: str
    opts: dict[str, Any] = field(default_factory=dict)
    argv: list[str] = field(default_factory=list)

    def get(self, name, default=None):
        return self.opts.get(name, default)

    def has(self, name) -> bool:
        return name in self.opts


@dataclass
class ModeSpec:
    options: dict[str, str]                         # option -> kind
    handler: str                                    # name of the function in the runner
    rowname: str = ""
    multi: set[str] = field(default_factory=lambda: set(MULTI_OK))


def _kinds(terms: dict[str, tuple]) -> dict[str, str]:
    return {k: v[0] for k, v in terms.items()}


_SET_RUN = {"set_state": "str", "set_label": "str", "set_data_group": "str", "set_dist_group": "str",
            "set_note": "str"}

MODES: dict[str, dict[str, ModeSpec]] = {
    "chiptool": {
        "definebyquery": ModeSpec({**_kinds(RAWEXP_TERMS), "label": "str", "unique": "flag",
                                   "random": "flag", "set_workdir": "str", "set_label": "str",
                                   "set_reduction": "str", "set_expgroup": "str", "set_dvodb": "str",
                                   "set_tess_id": "str", "set_end_stage": "str",
                                   "set_data_group": "str", "set_dist_group": "str",
                                   "set_note": "str"}, "definebyquery", "chipRun"),
        "updaterun": ModeSpec({"chip_id": "int", "label": "str", "state": "str", "data_group": "str",
                               "dist_group": "str", **_SET_RUN}, "updaterun", "chipRun"),
        "setimfiletoupdate": ModeSpec({"chip_id": "int", "class_id": "str", "set_label": "str",
                                       "set_update_mode": "int"}, "setupdate", "chipProcessedImfile"),
        "revertprocessedimfile": ModeSpec({"chip_id": "int", "class_id": "str", "label": "str",
                                           "data_group": "str", "fault": "int"},
                                          "revert", "chipProcessedImfile"),
        "listrun": ModeSpec({**_kinds(RAWEXP_TERMS), "chip_id": "int", "reduction": "str",
                             "state": "str", "tess_id": "str", "label": "str", "data_group": "str",
                             "dist_group": "str", "pstamp_order": "flag"}, "listrun", "chipRun"),
        "pendingcleanuprun": ModeSpec({"label": "str"}, "pendingcleanuprun", "chipPendingCleanupRun",
                                      multi=set()),
    },
    "warptool": {
        "definebyquery": ModeSpec({"fake_id": "int", "cam_id": "int", "chip_id": "int", "exp_id": "int",
                                   "exp_name": "str", "dateobs_begin": "time", "dateobs_end": "time",
                                   "filter": "str", "object": "str", "comment": "str",
                                   "obs_mode": "str", "reduction": "str", "label": "str",
                                   "set_mode": "str", "set_workdir": "str", "set_label": "str",
                                   "set_data_group": "str", "set_dist_group": "str",
                                   "set_dvodb": "str", "set_tess_id": "str", "set_reduction": "str",
                                   "set_end_stage": "str", "set_note": "str", "registered": "str"},
                                  "definebyquery", "warpRun"),
        "updaterun": ModeSpec({"warp_id": "int", "state": "str", "label": "str",
                               "data_group": "str", "dist_group": "str", **_SET_RUN},
                              "updaterun", "warpRun"),
        "setskyfiletoupdate": ModeSpec({"warp_id": "int", "skycell_id": "str", "set_label": "str"},
                                       "setupdate", "warpSkyfile"),
        "revertwarped": ModeSpec({"warp_id": "int", "skycell_id": "str", "label": "str",
                                  "data_group": "str", "fault": "int"},
                                 "revert", "warpSkyfile"),
        "listrun": ModeSpec({"warp_id": "int", "tess_id": "str", "state": "str", "exp_id": "int",
                             "exp_name": "str", "chip_id": "int", "cam_id": "int", "fake_id": "int",
                             "dateobs_begin": "time", "dateobs_end": "time", "filter": "str",
                             "label": "str", "data_group": "str", "dist_group": "str",
                             "pstamp_order": "flag", "fault": "int"}, "listrun", "warpRun"),
        "pendingcleanuprun": ModeSpec({"label": "str"}, "pendingcleanuprun", "warpPendingCleanupRun",
                                      multi=set()),
    },
    "difftool": {
        "updaterun": ModeSpec({"diff_id": "int", "label": "str", "state": "str", "data_group": "str",
                               "dist_group": "str", **_SET_RUN},
                              "updaterun", "diffRun"),
        "setskyfiletoupdate": ModeSpec({"diff_id": "int", "skycell_id": "str", "set_label": "str"},
                                       "setupdate", "diffSkyfile"),
        "listrun": ModeSpec({"diff_id": "int", "tess_id": "str", "state": "str", "label": "str",
                             "data_group": "str", "dist_group": "str", "exp_id": "int",
                             "exp_name": "str", "warp_id": "int", "template_exp_id": "int",
                             "dateobs_begin": "time", "dateobs_end": "time", "filter": "str",
                             "diff_mode": "int", "pstamp_order": "flag"}, "listrun", "diffRun"),
    },
    "pstamptool": {
        "updatereq": ModeSpec({"req_id": "int", "req_id_max": "int", "fault": "int", "state": "str",
                               "reqType": "str", "name": "str", "username": "str", "label": "str",
                               "timestamp_begin": "time", "timestamp_end": "time",
                               "set_state": "str", "set_label": "str", "set_outProduct": "str",
                               "set_outdir": "str", "set_fault": "int", "clearfault": "flag",
                               "set_uri": "str", "set_name": "str", "set_username": "str",
                               "set_reqType": "str"}, "updatereq", "pstampRequest", multi={"label"}),
        "listreq": ModeSpec({"req_id": "int", "not_req_id": "int", "name": "str", "username": "str",
                             "state": "str", "label": "str"}, "listreq", "pstampRequest",
                            multi={"label"}),
        "revertreq": ModeSpec({"req_id": "int", "fault": "int", "state": "str", "label": "str"},
                              "revertreq", "pstampRequest", multi={"label"}),
    },
}

TOOLS = tuple(MODES)


def supported_modes(tool: str) -> str:
    return ", ".join("-" + m for m in MODES[tool])


def _convert(kind: str, name: str, raw: str):
    try:
        if kind in ("int",):
            return int(raw)
        if kind in ("float", "deg"):
            v = float(raw)
            return math.radians(v) if kind == "deg" else v
        if kind == "time":
            return datetime.fromisoformat(raw.replace("Z", "").replace("T", " "))
    except ValueError:
        raise UsageError(f"-{name}: invalid value {raw!r}") from None
    return raw


def parse(tool: str, argv: list[str]) -> LegacyCall:
    """Parse a C-tool command line (without the tool name)."""
    if tool not in MODES:
        raise UsageError(f"unknown tool {tool!r}; supported: {', '.join(TOOLS)}")
    modes = [a[1:] for a in argv if a.startswith("-") and a[1:] in MODES[tool]]
    known_elsewhere = {"pendingimfile", "addprocessedimfile", "advanceexp", "processedimfile",
                       "updateprocessedimfile", "dropprocessedimfile", "definecopy", "run",
                       "runstate", "tooverlap", "towarped", "addwarped", "advancerun", "warped",
                       "scmap", "definewarpwarp", "definewarpstack", "todiffskyfile",
                       "pendingreq", "addreq", "completedreq", "updatejob", "revertjob",
                       "pendingcleanupimfile", "donecleanup", "revertcleanup", "block", "unblock",
                       "masked", "exportrun", "importrun", "definerun"}
    unsupported = [a for a in argv if a.startswith("-") and a[1:] in known_elsewhere]
    if not modes:
        extra = f" ({unsupported[0]} is not supported by mopstool)" if unsupported else ""
        raise UsageError(f"{tool}: exactly one mode is required{extra}; supported modes: "
                         f"{supported_modes(tool)}")
    if len(modes) > 1 or unsupported:
        raise UsageError(f"{tool}: only one mode may be given (found "
                         f"{', '.join('-' + m for m in modes + [u[1:] for u in unsupported])})")
    mode = modes[0]
    spec = MODES[tool][mode]
    allowed = {**GENERIC, **spec.options}
    opts: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-" + mode:
            i += 1
            continue
        if not a.startswith("-") or len(a) < 2:
            raise UsageError(f"{tool} -{mode}: unexpected argument {a!r} (extra arguments)")
        name = a[1:]
        if name not in allowed:
            raise UsageError(f"{tool} -{mode}: unknown option {a}")
        kind = allowed[name]
        if kind == "flag":
            opts[name] = True
            i += 1
            continue
        if i + 1 >= len(argv):
            raise UsageError(f"{tool} -{mode}: option {a} needs a value")
        value = _convert(kind, name, argv[i + 1])
        if name in spec.multi:
            opts.setdefault(name, []).append(value)
        elif name in opts:
            raise UsageError(f"{tool} -{mode}: option {a} given twice")
        else:
            opts[name] = value
        i += 2
    if opts.get("dbpassword"):
        raise UsageError("passwords are not accepted on the command line; put DBPASSWORD in ~/.ipprc "
                         "(chmod 600) or use a config profile's password_file")
    return LegacyCall(tool=tool, mode=mode, opts=opts, argv=list(argv))


def modern_equivalent(call: LegacyCall) -> str:
    """The modern mopstool command for a legacy call (printed on stderr)."""
    o = call.opts
    stage = {"chiptool": "chip", "warptool": "warp", "difftool": "diff"}.get(call.tool, "")
    idopt = {"chip": "chip_id", "warp": "warp_id", "diff": "diff_id"}.get(stage, "")
    parts = ["mopstool"]

    def add(flag, value):
        if value is None:
            return
        if isinstance(value, list):
            for v in value:
                add(flag, v)
            return
        if value is True:
            parts.append(flag)
        else:
            parts.extend([flag, shlex.quote(str(value))])

    m = call.mode
    if m == "definebyquery":
        parts.append("definebyquery")
        if call.tool == "warptool":
            add("--stage", "warp")
        for n in ("exp_name", "exp_id", "filter", "obs_mode", "object", "comment", "exp_type", "label",
                  "dateobs_begin", "dateobs_end"):
            add("--" + n.replace("_", "-"), o.get(n))
        for n in ("set_label", "set_workdir", "set_data_group", "set_dist_group", "set_tess_id",
                  "set_end_stage", "set_reduction", "set_expgroup", "set_dvodb", "set_note"):
            add("--" + n.replace("_", "-"), o.get(n))
        add("--unique", o.get("unique"))
        add("--limit", o.get("limit"))
        add("--dry-run", o.get("pretend"))
    elif m == "updaterun":
        parts += ["updaterun", stage]
        add("--id", o.get(idopt))
        for n in ("label", "state", "data_group", "dist_group"):
            add("--" + n.replace("_", "-"), o.get(n))
        for n in ("set_state", "set_label", "set_data_group", "set_dist_group", "set_note"):
            add("--" + n.replace("_", "-"), o.get(n))
        add("--dry-run", o.get("pretend"))
    elif m in ("setimfiletoupdate", "setskyfiletoupdate"):
        parts += ["setupdate", stage]
        add("--" + idopt.replace("_", "-"), o.get(idopt))
        add("--class-id", o.get("class_id"))
        add("--skycell-id", o.get("skycell_id"))
        add("--update-mode", o.get("set_update_mode"))
        add("--dry-run", o.get("pretend"))
        add("--set-label", o.get("set_label"))
    elif m in ("revertprocessedimfile", "revertwarped"):
        parts += ["revert", stage]
        add("--id", o.get(idopt))
        add("--component", o.get("class_id") or o.get("skycell_id"))
        add("--label", o.get("label"))
        add("--data-group", o.get("data_group"))
        add("--fault", o.get("fault"))
        add("--all", o.get("all"))
        add("--dry-run", o.get("pretend"))
    elif m == "listrun":
        parts += ["runs", stage]
        add("--id", o.get(idopt))
        for n in ("label", "state", "data_group", "dist_group"):
            add("--" + n.replace("_", "-"), o.get(n))
        add("--limit", o.get("limit"))
    elif m == "pendingcleanuprun":
        parts += ["runs", stage, "--state", "goto_cleaned", "--state", "goto_scrubbed", "--state",
                  "goto_purged"]
        add("--label", o.get("label"))
    elif m == "updatereq":
        st = o.get("set_state")
        if st == "stop" and o.get("req_id") is not None:
            parts += ["pstamp-req", "stop", str(o["req_id"])]
        elif st == "goto_cleaned" and o.get("req_id") is not None:
            parts += ["pstamp-req", "clean", str(o["req_id"])]
        else:
            parts += ["pstamp-req", "update"]
            for n in ("req_id", "req_id_max", "state", "label", "name", "fault"):
                add("--" + n.replace("_", "-"), o.get(n))
            add("--set-state", st)
            add("--set-label", o.get("set_label"))
            add("--set-fault", o.get("set_fault"))
            add("--clear-fault", o.get("clearfault"))
    elif m == "listreq":
        parts += ["pstamp-req", "list"]
        for n in ("state", "label", "name", "fault"):
            add("--" + n, o.get(n))
        if o.get("req_id") is not None:
            parts = ["mopstool", "pstamp-req", "show", str(o["req_id"])]
    elif m == "revertreq":
        parts += ["pstamp-req", "revert"]
        for n in ("req_id", "label", "fault", "state"):
            add("--" + n.replace("_", "-"), o.get(n))
    return " ".join(parts)


# ------------------------------------------------------------------ SQL helpers for listing modes

def _cond(column, op: str, value):
    if op == "LIKE":
        return column.like(value)
    if op == "NOT LIKE":
        return column.notlike(value)
    if op == ">=":
        return column >= value
    if op == "<=":
        return column <= value
    if op == ">":
        return column > value
    if op == "<":
        return column < value
    if value == "":
        return column.is_(None)
    return column == value


def multi_like(column, values: list[str]):
    conds = [column.is_(None) if v == "" else column.like(v) for v in values]
    return or_(*conds) if len(conds) > 1 else conds[0]


def rawexp_conditions(call: LegacyCall, terms=RAWEXP_TERMS) -> list:
    raw = schema.rawExp
    conds = []
    for name, (kind, col, op) in terms.items():
        if name in call.opts and name in MODES[call.tool][call.mode].options:
            conds.append(_cond(raw.c[col], op, call.opts[name]))
    return conds


# ------------------------------------------------------------------ IPP text output

def _mdc_type(value: Any, column_type: str | None) -> str:
    if column_type:
        return column_type
    if isinstance(value, bool):
        return "BOOL"
    if isinstance(value, int):
        return "S64"
    if isinstance(value, float):
        return "F64"
    if isinstance(value, datetime):
        return "UTC"
    return "STR"


def _mdc_value(value: Any, typ: str) -> str:
    if typ in ("UTC", "TAI"):
        if value is None:
            return "NULL"
        if isinstance(value, str):
            return value
        return value.strftime("%Y-%m-%dT%H:%M:%S.000000")
    if value is None:
        return {"S64": str(S64_NULL), "S32": str(S32_NULL), "S16": str(S16_NULL), "S8": "127",
                "F32": "nan", "F64": "nan", "BOOL": "F"}.get(typ, "NULL")
    if typ == "F32":
        return f"{float(value):.7g}"
    if typ == "F64":
        return f"{float(value):.15g}"
    if typ == "BOOL":
        return "T" if value else "F"
    if typ == "STR":
        s = str(value)
        return s if s.strip() else "NULL"
    return str(int(value))


def column_types(columns) -> dict[str, str]:
    """MDC type tokens for SQLAlchemy result columns."""
    from sqlalchemy import BigInteger, DateTime, Double, Float, Integer, SmallInteger, String

    out = {}
    for c in columns:
        t = getattr(c, "type", None)
        name = getattr(c, "key", None) or getattr(c, "name", None)
        if isinstance(t, BigInteger):
            out[name] = "S64"
        elif isinstance(t, SmallInteger):
            out[name] = "S16"
        elif isinstance(t, Integer):
            out[name] = "S32"
        elif isinstance(t, Double):
            out[name] = "F64"
        elif isinstance(t, Float):
            out[name] = "F32"
        elif isinstance(t, DateTime):
            out[name] = "UTC"
        elif isinstance(t, String):
            out[name] = "STR"
    return out


def format_mdc(rows: list[dict], rowname: str, types: dict[str, str] | None = None) -> str:
    """IPP metadata-config blocks: '<name> MULTI', then per row '<name>  METADATA'
    ... 'END'. NULL integers print as the IPP sentinels (S64 9223372036854775807)."""
    if not rows:
        return ""
    types = types or {}
    out = []
    if len(rows) > 1:
        out.append(f"{rowname} MULTI")
    for r in rows:
        out.append("")
        out.append(f"{rowname}  METADATA")
        width = max(len(k) for k in r)
        for k, v in r.items():
            t = _mdc_type(v, types.get(k))
            out.append(f"   {k.ljust(width)}  {t:<4} {_mdc_value(v, t)}")
        out.append("END")
    return "\n".join(out) + "\n"


def format_simple(rows: list[dict], types: dict[str, str] | None = None) -> str:
    """-simple: one line per row, single spaces, underscores in strings as spaces."""
    types = types or {}
    lines = []
    for r in rows:
        vals = []
        for k, v in r.items():
            t = _mdc_type(v, types.get(k))
            if v is None:
                vals.append("NULL" if t in ("STR", "UTC", "TAI") else _mdc_value(None, t))
            elif t in ("F32", "F64"):
                vals.append(f"{float(v):f}")
            elif t == "STR":
                vals.append(str(v).replace("_", " ") or "NULL")
            else:
                vals.append(_mdc_value(v, t))
        lines.append(" ".join(vals))
    return "\n".join(lines) + ("\n" if lines else "")


# ------------------------------------------------------------------ listing modes (read only)

def _chip_listrun(call: LegacyCall):
    cr, raw, cam, cpe = schema.chipRun, schema.rawExp, schema.camRun, schema.camProcessedExp
    cols = [cr.c.chip_id, cr.c.state, cr.c.workdir, cr.c.label, cr.c.data_group, cr.c.dist_group,
            cr.c.note, cr.c.magicked, cr.c.reduction, cam.c.cam_id, cam.c.state.label("camRun_state"),
            cpe.c.path_base.label("cam_path_base"), raw.c.exp_id, raw.c.exp_name, raw.c.camera,
            raw.c.filter, raw.c.dateobs, raw.c.ra, raw.c.decl, raw.c.exp_time,
            raw.c.magicked.label("raw_magicked")]
    frm = (cr.join(raw, raw.c.exp_id == cr.c.exp_id)
           .outerjoin(cam, cam.c.chip_id == cr.c.chip_id)
           .outerjoin(cpe, cpe.c.cam_id == cam.c.cam_id))
    conds = rawexp_conditions(call)
    o = call.opts
    if "chip_id" in o:
        conds.append(cr.c.chip_id == o["chip_id"])
    if "reduction" in o:
        conds.append(cr.c.reduction == o["reduction"])
    if "state" in o:
        conds.append(cr.c.state == o["state"])
    if "tess_id" in o:
        conds.append(cr.c.tess_id.like(o["tess_id"]))
    for n in ("label", "data_group", "dist_group"):
        if n in o:
            conds.append(multi_like(cr.c[n], o[n]))
    order = [raw.c.exp_id, cr.c.chip_id.desc()] if o.get("pstamp_order") else [cr.c.chip_id]
    return cols, frm, conds, order


def _warp_listrun(call: LegacyCall):
    wr, fk, cam, cr, raw = (schema.warpRun, schema.fakeRun, schema.camRun, schema.chipRun,
                            schema.rawExp)
    cols = [*wr.c, cam.c.cam_id, cr.c.chip_id, raw.c.exp_id, raw.c.exp_name, raw.c.camera,
            raw.c.filter, raw.c.dateobs, raw.c.ra, raw.c.decl, raw.c.exp_time]
    frm = (wr.join(fk, fk.c.fake_id == wr.c.fake_id).join(cam, cam.c.cam_id == fk.c.cam_id)
           .join(cr, cr.c.chip_id == cam.c.chip_id).join(raw, raw.c.exp_id == cr.c.exp_id))
    o = call.opts
    conds = []
    for n, col in (("warp_id", wr.c.warp_id), ("tess_id", wr.c.tess_id), ("state", wr.c.state),
                   ("exp_id", raw.c.exp_id), ("exp_name", raw.c.exp_name), ("chip_id", cr.c.chip_id),
                   ("cam_id", cam.c.cam_id), ("fake_id", fk.c.fake_id)):
        if n in o:
            conds.append(col == o[n])
    if "dateobs_begin" in o:
        conds.append(raw.c.dateobs >= o["dateobs_begin"])
    if "dateobs_end" in o:
        conds.append(raw.c.dateobs <= o["dateobs_end"])
    if "filter" in o:
        conds.append(raw.c.filter.like(o["filter"]))
    for n in ("label", "data_group", "dist_group"):
        if n in o:
            conds.append(multi_like(wr.c[n], o[n]))
    order = [raw.c.exp_id, wr.c.warp_id.desc()] if o.get("pstamp_order") else [wr.c.warp_id]
    return cols, frm, conds, order


def _diff_listrun(call: LegacyCall):
    dr, di = schema.diffRun, schema.diffInputSkyfile
    inputs = (select(di.c.diff_id, func.min(di.c.warp1).label("warp1"),
                     func.min(di.c.warp2).label("warp2"), func.min(di.c.stack2).label("stack2"))
              .group_by(di.c.diff_id).subquery("inp"))
    w1, f1, c1, ch1, r1 = (schema.warpRun.alias("w1"), schema.fakeRun.alias("f1"),
                           schema.camRun.alias("c1"), schema.chipRun.alias("ch1"),
                           schema.rawExp.alias("r1"))
    w2, f2, c2, ch2, r2 = (schema.warpRun.alias("w2"), schema.fakeRun.alias("f2"),
                           schema.camRun.alias("c2"), schema.chipRun.alias("ch2"),
                           schema.rawExp.alias("r2"))
    cols = [dr.c.diff_id, dr.c.state, dr.c.workdir, dr.c.label, dr.c.data_group, dr.c.dist_group,
            dr.c.reduction, dr.c.note, dr.c.magicked, dr.c.diff_mode, dr.c.tess_id, dr.c.bothways,
            inputs.c.warp1, inputs.c.warp2, inputs.c.stack2,
            r1.c.exp_name.label("exp_name_1"), r1.c.exp_id.label("exp_id_1"),
            r1.c.filter.label("filter_1"), r1.c.comment.label("comment_1"),
            r1.c.dateobs.label("dateobs_1"), ch1.c.chip_id.label("chip_id_1"),
            c1.c.cam_id.label("cam_id_1"), f1.c.fake_id.label("fake_id_1"),
            r2.c.exp_name.label("exp_name_2"), r2.c.exp_id.label("exp_id_2"),
            r2.c.filter.label("filter_2"), r2.c.comment.label("comment_2"),
            r2.c.dateobs.label("dateobs_2"), ch2.c.chip_id.label("chip_id_2"),
            c2.c.cam_id.label("cam_id_2"), f2.c.fake_id.label("fake_id_2")]
    frm = dr.outerjoin(inputs, inputs.c.diff_id == dr.c.diff_id)
    for w, f, c, ch, r, col in ((w1, f1, c1, ch1, r1, inputs.c.warp1),
                                (w2, f2, c2, ch2, r2, inputs.c.warp2)):
        frm = (frm.outerjoin(w, w.c.warp_id == col).outerjoin(f, f.c.fake_id == w.c.fake_id)
               .outerjoin(c, c.c.cam_id == f.c.cam_id).outerjoin(ch, ch.c.chip_id == c.c.chip_id)
               .outerjoin(r, r.c.exp_id == ch.c.exp_id))
    o = call.opts
    conds = []
    for n, col in (("diff_id", dr.c.diff_id), ("state", dr.c.state), ("diff_mode", dr.c.diff_mode),
                   ("exp_id", r1.c.exp_id), ("exp_name", r1.c.exp_name),
                   ("template_exp_id", r2.c.exp_id), ("warp_id", inputs.c.warp1)):
        if n in o:
            conds.append(col == o[n])
    if "tess_id" in o:
        conds.append(dr.c.tess_id.like(o["tess_id"]))
    if "filter" in o:
        conds.append(r1.c.filter.like(o["filter"]))
    if "dateobs_begin" in o:
        conds.append(r1.c.dateobs >= o["dateobs_begin"])
    if "dateobs_end" in o:
        conds.append(r1.c.dateobs <= o["dateobs_end"])
    for n in ("label", "data_group", "dist_group"):
        if n in o:
            conds.append(multi_like(dr.c[n], o[n]))
    order = [r1.c.exp_id, dr.c.diff_id.desc()] if o.get("pstamp_order") else [dr.c.diff_id]
    return cols, frm, conds, order


def listrun(conn, call: LegacyCall) -> tuple[list[dict], dict[str, str]]:
    builder: Callable = {"chiptool": _chip_listrun, "warptool": _warp_listrun,
                         "difftool": _diff_listrun}[call.tool]
    cols, frm, conds, order = builder(call)
    terms = [k for k in call.opts if k not in GENERIC]
    if not terms and not call.get("all"):
        raise UsageError(f"{call.tool} -listrun: search parameters are required (or -all)")
    q = select(*cols).select_from(frm).where(and_(*conds) if conds else literal(True)).order_by(*order)
    if call.get("limit"):
        q = q.limit(call.get("limit"))
    res = conn.execute(q)
    rows = [dict(r._mapping) for r in res]
    return rows, column_types(cols)


def pendingcleanuprun(conn, call: LegacyCall) -> tuple[list[dict], dict[str, str]]:
    stage = {"chiptool": "chip", "warptool": "warp"}[call.tool]
    lbl = schema.Label
    if stage == "chip":
        run, raw = schema.chipRun, schema.rawExp
        cols = [run.c.chip_id, raw.c.camera, raw.c.exp_tag, run.c.state, run.c.workdir, run.c.label]
        frm = run.join(raw, raw.c.exp_id == run.c.exp_id)
        idc = run.c.chip_id
        if not call.has("label") and not call.get("all"):
            raise UsageError("chiptool -pendingcleanuprun: -label or -all is required")
    else:
        run = schema.warpRun
        cols = [run.c.warp_id, run.c.state, run.c.workdir, run.c.label, run.c.tess_id]
        frm = run
        idc = run.c.warp_id
    prio = func.coalesce(lbl.c.priority, 10000).label("priority")
    frm = frm.outerjoin(lbl, lbl.c.label == run.c.label)
    conds = [run.c.state.in_(("goto_cleaned", "goto_scrubbed", "goto_purged"))]
    if call.has("label"):
        conds.append(run.c.label == call.get("label"))
    q = select(*cols, prio).select_from(frm).where(*conds).order_by(prio.desc(), idc)
    if call.get("limit"):
        q = q.limit(call.get("limit"))
    rows = [dict(r._mapping) for r in conn.execute(q)]
    types = column_types(cols)
    types["priority"] = "S32"
    return rows, types


# ------------------------------------------------------------------ databases for -dbname/-dbserver

def resolve_url(cfg, call: LegacyCall, explicit: str | None) -> tuple[str, str]:
    """The database a legacy call uses: --db/--pstamp-db or MOPSTOOL_DB/MOPSTOOL_PSTAMP_DB
    win; else the config profile named by -dbname (with -dbserver replacing its host);
    else the ~/.ipprc DB keys with -dbname/-dbserver applied."""
    from sqlalchemy.engine import make_url

    from mopstool.config import _ipprc_keys, _mysql_url, _profile_url

    if explicit:
        return explicit, "--db"
    dbname = call.get("dbname")
    server = call.get("dbserver")
    profiles = cfg.get("database") or {}
    name = dbname or cfg.get("general.dbname", "gpc1")
    profile = profiles.get(name)
    if profile:
        url = _profile_url(profile)
        if url and server:
            parsed = make_url(url)
            if parsed.host and parsed.host != server:
                url = parsed.set(host=server).render_as_string(hide_password=False)
        if url:
            return url, f"profile [database.{name}]"
    keys = _ipprc_keys(cfg.env)
    host = server or (keys.get("PS_DBSERVER") if call.tool == "pstamptool" else None) or keys.get("DBSERVER")
    if host and keys.get("DBUSER"):
        return (_mysql_url(host, keys["DBUSER"], keys.get("DBPASSWORD"), dbname or keys.get("DBNAME"),
                           call.get("dbport") or keys.get("DBPORT")), f"ipprc {keys.get('_path')}")
    from mopstool.errors import ConfigError

    raise ConfigError(f"{call.tool}: no database for -dbname {name}: define [database.{name}] in the "
                      "config, DB keys in ~/.ipprc, or pass --db/--pstamp-db")
