"""The compatibility front: the C tools' single-dash recipes, as one table.

``MODES[tool][mode]`` is a :class:`Mode`: every option the C tool's config
accepts for that mode with how mopstool applies it (or why it is refused),
the handler (the same ops call as the modern command), the printer of the
modern equivalent, and the row name of the IPP output. ``parse(tool, argv)``
checks a command line against the table; an option is either applied as the
C tool applies it or refused naming it (exit status 3, as the C tools exit
on an unusable option).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from mopstool.legacy import handlers as h
from mopstool.legacy import modern as m
from mopstool.legacy.call import RAWEXP_TERMS, LegacyCall, LegacyError, Opt
from mopstool.stages import ERROR_CLEANUP_STATES, DependentState, JobState, RequestState, State

#: options every mode takes (pmConfigRead): the database
CONNECTION = {"dbname": Opt("str", "the config profile [database.NAME] (or DBNAME of ~/.ipprc)"),
              "dbserver": Opt("str", "replaces the host of the profile / DBSERVER"),
              "dbport": Opt("int", "DBPORT of the ~/.ipprc connection"),
              "dbuser": Opt("str", refuse="set the user in the config profile or DBUSER of ~/.ipprc"),
              "dbpassword": Opt("str", refuse="passwords never go on the command line; put DBPASSWORD "
                                              "in ~/.ipprc (chmod 600) or a profile's password_file")}


@dataclass(frozen=True)
class Mode:
    options: dict[str, Opt]
    run: Callable                      # handler(call, dbs, note) -> (rows, types) | None
    modern: Callable | None            # printer(call) -> argv after 'mopstool'; None: no modern command
    rowname: str = ""
    writes: bool = False
    doc: str = ""
    #: why no modern command is printed (said on stderr), when ``modern`` is None
    no_modern: str = ""


def _o(kind="str", how="", **kw) -> Opt:
    return Opt(kind, how, **kw)


def _rawexp(*, exp_type_default: str | None = None) -> dict[str, Opt]:
    out = {}
    for name, (kind, col, op) in RAWEXP_TERMS.items():
        unit = " (degrees)" if kind == "deg" else ""
        out[name] = _o(kind, f"rawExp.{col} {op}{unit}",
                       default=exp_type_default if name == "exp_type" else None)
    return out


def _refused(names, why: str) -> dict[str, Opt]:
    return {n: _o("str" if not n.endswith(("destreaked",)) else "flag", refuse=why) for n in names}


_MAGIC = {"magicked": _o("int", refuse="the magic/destreak selectors are not supported (magic is retired)"),
          "destreaked": _o("flag", refuse="the magic/destreak selectors are not supported"),
          "not_destreaked": _o("flag", refuse="the magic/destreak selectors are not supported")}
_CONE = {"ra": _o("float", refuse="cone searches are not supported; use -ra_min/-ra_max ..."),
         "decl": _o("float", refuse="cone searches are not supported"),
         "radius": _o("float", refuse="cone searches are not supported")}
_LIST = {"limit": _o("int", "LIMIT N (0: no limit)"), "simple": _o("flag", "one line per row"),
         "all": _o("flag", "allow no search term")}
_RUN_SET = {"set_state": _o("str", "new run state (a valid IPP state)", choices=tuple(State)),
            "set_label": _o("str", "new label"), "set_data_group": _o("str", "new data_group"),
            "set_dist_group": _o("str", "new dist_group"), "set_note": _o("str", "new note")}
_DEFINE_SET = {"set_workdir": _o("str", "workdir (required for chip)"),
               "set_label": _o("str", "label (required for chip)"),
               "set_reduction": _o("str", "reduction (default: inherited)"),
               "set_expgroup": _o("str", "expgroup"), "set_dvodb": _o("str", "dvodb (default: inherited)"),
               "set_tess_id": _o("str", "tess_id (default: inherited)"),
               "set_end_stage": _o("str", "end_stage (default: inherited)"),
               "set_data_group": _o("str", "data_group (default: the label)"),
               "set_dist_group": _o("str", "dist_group"), "set_note": _o("str", "note")}
_NOT_RAWEXP = "rawExp terms are not supported by this mode in mopstool; select by id or label"

_WARP_RAWEXP = {k: v for k, v in _rawexp().items() if k not in ("comment-skip", "data_state")}
_WARP_RAWEXP["filter"] = _o("str", "rawExp.filter = (LIKE wildcards refused)")
_WARP_RAWEXP["object"] = _o("str", "rawExp.object = (LIKE wildcards refused)")

MODES: dict[str, dict[str, Mode]] = {
    "chiptool": {
        "definebyquery": Mode(
            {**_rawexp(exp_type_default="object"),
             "label": _o("str", "newExp.label LIKE", multi=True), **_DEFINE_SET,
             "unique": _o("flag", "skip exposures that have a chipRun with the new label"),
             "pretend": _o("flag", "print the selected rawExp rows, write nothing"),
             "simple": _o("flag", "one line per row"), "limit": _o("int", "LIMIT N"),
             "all": _o("flag", "allow no search term"),
             "random": _o("flag", refuse="random order is not supported (the selection is ordered "
                                         "by exp_id)")},
            h.definebyquery, m.definebyquery, "rawExp", True,
            "create chip runs from raw exposures"),
        "definecopy": Mode(
            {**_rawexp(exp_type_default="object"),
             "label": _o("str", "the old chipRun's label LIKE", multi=True),
             "data_group": _o("str", "the old chipRun's data_group LIKE", multi=True),
             "state": _o("str", "the old chipRun's state ="), **_DEFINE_SET,
             "set_workdir": _o("str", "workdir (default: rawExp.workdir)"),
             "set_label": _o("str", "label (required); exposures with a run of it are skipped"),
             "pretend": _o("flag", "print the selected rawExp rows with the old run's workdir, "
                                   "data_group and state, write nothing"),
             "simple": _o("flag", "one line per row"), "all": _o("flag", "allow no search term")},
            h.definecopy, m.definecopy, "rawExp", True,
            "create chip runs for exposures that have matching chip runs"),
        "updaterun": Mode(
            {"chip_id": _o("int", "chipRun.chip_id ="), "state": _o("str", "chipRun.state ="),
             "label": _o("str", "chipRun.label LIKE"), "data_group": _o("str", "data_group LIKE"),
             "dist_group": _o("str", "dist_group LIKE"), **_RUN_SET, **_MAGIC,
             **{k: _o(v.kind, refuse=_NOT_RAWEXP) for k, v in _rawexp().items()}},
            h.updaterun, m.updaterun, "chipRun", True, "change chip run columns"),
        "setimfiletoupdate": Mode(
            {"chip_id": _o("int", "the run (required)"), "class_id": _o("str", "one imfile"),
             "set_label": _o("str", "new label"), "set_update_mode": _o("int", "chipRun.update_mode "
                                                                               "(always written, 0)")},
            h.setupdate, m.setupdate, "chipProcessedImfile", True, "queue cleaned imfiles for update"),
        "revertprocessedimfile": Mode(
            {"chip_id": _o("int", "chipRun.chip_id ="), "class_id": _o("str", "class_id ="),
             "label": _o("str", "chipRun.label =", multi=True), "fault": _o("int", "fault ="),
             "all": _o("flag", "allow no search term"),
             "reduction": _o("str", refuse="-reduction is not supported here; select by -label"),
             **{k: _o(v.kind, refuse=_NOT_RAWEXP) for k, v in _rawexp().items()}},
            h.revert, m.revert, "chipProcessedImfile", True, "revert faulted imfiles"),
        "listrun": Mode(
            {**_rawexp(), "chip_id": _o("int", "chip_id ="), "reduction": _o("str", "reduction ="),
             "label": _o("str", "label LIKE", multi=True), "state": _o("str", "state ="),
             "tess_id": _o("str", "tess_id LIKE"), "data_group": _o("str", "LIKE", multi=True),
             "dist_group": _o("str", "LIKE", multi=True), **_MAGIC,
             "pstamp_order": _o("flag", "ORDER BY exp_id, chip_id DESC"), **_LIST, **_CONE},
            h.chip_listrun, m.listrun, "chipRun", False, "list chip runs"),
        "pendingcleanuprun": Mode(
            {"label": _o("str", "chipRun.label =", multi=True), **_LIST},
            h.chip_pendingcleanuprun, m.pendingcleanuprun, "chipPendingCleanupRun", False,
            "runs waiting for cleanup"),
        "dropprocessedimfile": Mode(
            {"chip_id": _o("int", "chipProcessedImfile.chip_id ="),
             "cam_id": _o("int", "the chip run of camRun.cam_id"),
             "class_id": _o("str", "class_id = (required)"),
             "set_quality": _o("int", "quality (non-zero, required)")},
            h.drop, m.drop, "chipProcessedImfile", True,
            "mark an imfile done but bad so its run can complete"),
        "processedimfile": Mode(
            {**_rawexp(), "chip_id": _o("int", "chipRun.chip_id ="),
             "chip_imfile_id": _o("int", "chipImfile.chip_imfile_id ="),
             "class_id": _o("str", "class_id ="), "reduction": _o("str", "chipRun.reduction ="),
             "label": _o("str", "chipRun.label LIKE", multi=True),
             "data_group": _o("str", "chipRun.data_group LIKE", multi=True), **_MAGIC,
             "magicked": _o("int", "chipProcessedImfile.magicked ="),
             "pstamp_order": _o("flag", "ORDER BY exp_id, chip_id DESC"),
             "faulted": _o("flag", "only faulted imfiles (fault != 0)"),
             "allfiles": _o("flag", "faulted or not (default: fault = 0 only)"), **_LIST, **_CONE},
            h.chip_processedimfile, None, "chipProcessedImfile", False, "list processed imfiles",
            no_modern="mopstool has no component listing with these selectors"),
        "updateprocessedimfile": Mode(
            {"chip_id": _o("int", "chip_id ="), "class_id": _o("str", "class_id ="),
             "fault": _o("int", "new fault (required without -set_state)"),
             "set_state": _o("str", "new data_state (-fault, -set_quality then ignored)",
                             choices=tuple(State)),
             "set_quality": _o("int", "new quality (0: unchanged)")},
            h.updateprocessedimfile, None, "chipProcessedImfile", True, "set an imfile's fault, quality "
            "or data_state", no_modern="mopstool has no command that sets a component's fault; "
            "'mopstool drop chip' marks an imfile done-but-bad"),
        "pendingcleanupimfile": Mode(
            {"label": _o("str", "chipRun.label =", multi=True), "chip_id": _o("int", "chipRun.chip_id ="),
             "exp_id": _o("str", "ignored, as chiptool ignores it"),
             "all": _o("flag", "every imfile of the runs waiting for cleanup; no search term needed"),
             "simple": _o("flag", "one line per row"), "limit": _o("int", "LIMIT N")},
            h.chip_pendingcleanupimfile, None, "chipPendingCleanupImfile", False,
            "imfiles waiting for cleanup", no_modern="'mopstool cleanup --dry-run' plans whole runs, "
            "not imfiles"),
        "donecleanup": Mode(
            {"label": _o("str", "chipRun.label ="), "simple": _o("flag", "one line per row"),
             "limit": _o("int", "LIMIT N")},
            h.chip_donecleanup, m.donecleanup, "chipDoneCleanup", False, "runs that have been cleaned",
            no_modern="'mopstool runs --label' compares with LIKE: a label with % or _ would widen it"),
        "revertcleanup": Mode(
            {"chip_id": _o("int", "chipRun.chip_id ="), "label": _o("str", "chipRun.label LIKE", multi=True),
             "data_group": _o("str", "chipRun.data_group LIKE", multi=True),
             "state": _o("str", "error_cleaned (default), error_purged or error_scrubbed",
                         choices=tuple(ERROR_CLEANUP_STATES)),
             "fault": _o("int", "ignored, as chiptool ignores it")},
            h.revertcleanup, None, "chipRun", True, "retry a failed cleanup",
            no_modern="mopstool cleanup does not reset failed cleanups"),
        "block": Mode({"label": _o("str", "insert into chipMask (required)")}, h.block, m.block,
                      "chipMask", True, "block a label's new chip runs"),
        "unblock": Mode({"label": _o("str", "delete from chipMask (required)")}, h.block, m.block,
                        "chipMask", True, "unblock a label"),
    },
    "warptool": {
        "definebyquery": Mode(
            {"fake_id": _o("int", "fakeRun.fake_id ="), "cam_id": _o("int", "camRun.cam_id ="),
             "chip_id": _o("int", "chipRun.chip_id ="), **_WARP_RAWEXP,
             "reduction": _o("str", "fakeRun.reduction = (LIKE wildcards refused)"),
             "label": _o("str", "fakeRun.label = (LIKE wildcards refused)", multi=True),
             "set_mode": _o("str", "required; warptool inserts mode 'warp' whatever it is",
                            choices=("warp", "diff", "stack", "magic")),
             **{k: v for k, v in _DEFINE_SET.items() if k != "set_expgroup"},
             "registered": _o("time", "ignored, as warptool ignores it"),
             "simple": _o("flag", "one line per row"),
             "pretend": _o("flag", "print the selected fakeRun rows (as rawExp blocks), write nothing"),
             "all": _o("flag", "allow no search term")},
            h.definebyquery, m.definebyquery, "rawExp", True, "create warp runs from full fakeRuns"),
        "updaterun": Mode(
            {"warp_id": _o("int", "warp_id ="), "state": _o("str", "state ="),
             "label": _o("str", "label LIKE", multi=True), "data_group": _o("str", "data_group LIKE"),
             "dist_group": _o("str", "dist_group LIKE"), "pretend": _o("flag", "write nothing"),
             **_RUN_SET, **_MAGIC,
             "reduction": _o("str", refuse="-reduction is not supported by mopstool updaterun"),
             "registered_begin": _o("time", refuse="-registered_begin is not supported"),
             "registered_end": _o("time", refuse="-registered_end is not supported")},
            h.updaterun, m.updaterun, "warpRun", True, "change warp run columns"),
        "setskyfiletoupdate": Mode(
            {"warp_id": _o("int", "the run (required)"), "skycell_id": _o("str", "one skyfile"),
             "set_label": _o("str", "new label")},
            h.setupdate, m.setupdate, "warpSkyfile", True, "queue cleaned skyfiles for update"),
        "revertwarped": Mode(
            {"warp_id": _o("int", "warp_id ="), "skycell_id": _o("str", "skycell_id ="),
             "label": _o("str", "warpRun.label =", multi=True), "fault": _o("int", "fault ="),
             "all": _o("flag", "allow no search term"),
             "tess_id": _o("str", refuse="-tess_id is not supported here; select by -warp_id"),
             "reduction": _o("str", refuse="-reduction is not supported here; select by -label")},
            h.revert, m.revert, "warpSkyfile", True, "revert faulted skyfiles"),
        "listrun": Mode(
            {"warp_id": _o("int", "="), "tess_id": _o("str", "="), "state": _o("str", "="),
             "exp_id": _o("int", "="), "exp_name": _o("str", "="), "chip_id": _o("int", "="),
             "cam_id": _o("int", "="), "fake_id": _o("int", "="), "dateobs_begin": _o("time", ">="),
             "dateobs_end": _o("time", "<="), "filter": _o("str", "LIKE"), "magicked": _o("int", "="),
             "label": _o("str", "LIKE", multi=True), "data_group": _o("str", "LIKE", multi=True),
             "dist_group": _o("str", "LIKE", multi=True),
             "destreaked": _o("flag", refuse="the destreak selectors are not supported"),
             "not_destreaked": _o("flag", refuse="the destreak selectors are not supported"),
             "fault": _o("int", refuse="warptool accepts -fault here but never applies it"),
             "pstamp_order": _o("flag", "ORDER BY exp_id, warp_id DESC"), **_LIST, **_CONE},
            h.warp_listrun, m.listrun, "warpRun", False, "list warp runs"),
        "pendingcleanuprun": Mode(
            {"label": _o("str", "warpRun.label =", multi=True), **_LIST},
            h.warp_pendingcleanuprun, m.pendingcleanuprun, "warpPendingCleanupRun", False,
            "runs waiting for cleanup (with camera and exp_tag for ipp_cleanup.pl)"),
        "revertoverlap": Mode(
            {"warp_id": _o("int", "warp_id ="), "label": _o("str", "warpRun.label =", multi=True),
             "fault": _o("int", "fault ="), "all": _o("flag", "allow no search term"),
             "skycell_id": _o("str", refuse="faulted overlap rows have no skycell; select by -warp_id"),
             "tess_id": _o("str", refuse="faulted overlap rows have no tess_id; select by -warp_id")},
            h.revertoverlap, m.revertoverlap, "warpSkyCellMap", True,
            "delete faulted overlap rows of new warp runs"),
        "scmap": Mode(
            {"warp_id": _o("int", "warpSkyCellMap.warp_id ="), "skycell_id": _o("str", "skycell_id ="),
             "tess_id": _o("str", "tess_id ="), "class_id": _o("str", "class_id ="),
             "limit": _o("int", "LIMIT N"), "simple": _o("flag", "one line per row")},
            h.warp_scmap, None, "warpSkyCellMap", False, "list the skycell to chip map",
            no_modern="mopstool has no skycell-map listing"),
        "updateskyfile": Mode(
            {"warp_id": _o("int", "warp_id ="), "skycell_id": _o("str", "skycell_id ="),
             "fault": _o("int", "new fault (required without -set_state)"),
             "set_quality": _o("int", "new quality (0: unchanged)"),
             "set_state": _o("str", "error_cleaned, error_scrubbed or error_purged (data_state; the run "
                             "follows)", choices=tuple(State)),
             "set_background_model": _o("int", "new background_model (then nothing else is set)")},
            h.updateskyfile, None, "warpSkyfile", True, "set a skyfile's fault, quality, data_state or "
            "background model", no_modern="mopstool has no command that sets a component's fault"),
        "block": Mode({"label": _o("str", "insert into warpMask (required)")}, h.block, m.block,
                      "warpMask", True, "block a label's new warp runs"),
        "unblock": Mode({"label": _o("str", "delete from warpMask (required)")}, h.block, m.block,
                        "warpMask", True, "unblock a label"),
    },
    "difftool": {
        "updaterun": Mode(
            {"diff_id": _o("int", "diff_id ="), "label": _o("str", "label LIKE"),
             "state": _o("str", "state ="), "data_group": _o("str", "data_group LIKE"),
             "dist_group": _o("str", "dist_group LIKE"), **_RUN_SET, **_MAGIC,
             "set_diff_mode": _o("int", refuse="difftool accepts -set_diff_mode but never applies it")},
            h.updaterun, m.updaterun, "diffRun", True, "change diff run columns"),
        "setskyfiletoupdate": Mode(
            {"diff_id": _o("int", "the run (required)"), "skycell_id": _o("str", "one skyfile"),
             "set_label": _o("str", "new label")},
            h.setupdate, m.setupdate, "diffSkyfile", True, "queue cleaned skyfiles for update"),
        "listrun": Mode(
            {"diff_id": _o("int", "="), "tess_id": _o("str", "LIKE"), "magicked": _o("int", "="),
             "state": _o("str", "="), "label": _o("str", "LIKE", multi=True),
             "data_group": _o("str", "LIKE", multi=True), "dist_group": _o("str", "LIKE", multi=True),
             "exp_id": _o("int", "input exposure ="), "exp_name": _o("str", "input exposure ="),
             "warp_id": _o("int", "input warp ="), "template_exp_id": _o("int", "template exposure ="),
             "dateobs_begin": _o("time", "input dateobs >="), "dateobs_end": _o("time", "input dateobs <="),
             "filter": _o("str", "input filter LIKE"), "diff_mode": _o("int", "="),
             "template": _o("flag", refuse="-template (filter on the template) is not supported"),
             "pstamp_order": _o("flag", "ORDER BY exp_id, diff_id DESC"), **_LIST, **_CONE},
            h.diff_listrun, m.listrun, "diffRun", False, "list diff runs"),
        "revertdiffskyfile": Mode(
            {"diff_id": _o("int", "diff_id ="), "skycell_id": _o("str", "skycell_id ="),
             "label": _o("str", "diffRun.label =", multi=True), "fault": _o("int", "fault ="),
             "all": _o("flag", "allow no search term")},
            h.revert, m.revert, "diffSkyfile", True, "revert faulted diff skyfiles"),
        "pendingcleanuprun": Mode(
            {"label": _o("str", "diffRun.label =", multi=True), "limit": _o("int", "LIMIT N"),
             "simple": _o("flag", "one line per row")},
            h.diff_pendingcleanuprun, m.pendingcleanuprun, "diffPendingCleanupRun", False,
            "runs waiting for cleanup (with the inputs' camera)"),
        "definewarpwarp": Mode(
            {"warp_id": _o("int", "input warpRun.warp_id ="), "exp_id": _o("int", "input rawExp.exp_id ="),
             "template_exp_id": _o("int", "template rawExp.exp_id ="),
             "template_warp_id": _o("int", "template warpRun.warp_id ="),
             "filter": _o("str", "input rawExp.filter = (the template's is the same)"),
             "obs_mode": _o("str", "input and template rawExp.obs_mode ="),
             "input_label": _o("str", "input warpRun.label ="),
             "template_label": _o("str", "template warpRun.label ="),
             "rotdiff": _o("float", "|input posang - template posang| <="),
             "timediff": _o("float", "|input dateobs - template dateobs| <= (seconds)"),
             "mintimediff": _o("float", "|input dateobs - template dateobs| >= (seconds)"),
             "distance": _o("float", "input-template distance <= (degrees, difftool's formula)"),
             "backwards": _o("flag", "the template is taken after the input (default: before)"),
             "not-bothways": _o("flag", "diffRun.bothways = 0"),
             "dateobs_begin": _o("time", "input rawExp.dateobs >="),
             "dateobs_end": _o("time", "input rawExp.dateobs <="),
             **{f"{c}{sfx}": _o("deg" if c in ("ra", "decl") else "float",
                                f"input rawExp.{c} {op}{' (degrees)' if c in ('ra', 'decl') else ''}")
                for c in ("ra", "decl", "airmass", "exp_time", "sat_pixel_frac", "bg", "bg_stdev",
                          "bg_mean_stdev", "alt", "az", "ccd_temp", "posang", "sun_angle")
                for sfx, op in (("_min", ">="), ("_max", "<"))},
             "input_comment": _o("str", "input rawExp.comment LIKE"),
             "template_comment": _o("str", "template rawExp.comment LIKE"),
             "good_frac": _o("float", "skycells with good_frac >= in both warps"),
             "rerun": _o("flag", "also exposures that have a diff (default: only exposures without "
                                 "a whole-exposure diff under -set_label)"),
             "set_workdir": _o("str", "workdir (required)"), "set_label": _o("str", "label"),
             "set_reduction": _o("str", "reduction"),
             "set_registered": _o("time", "registered (default: now)"),
             "set_data_group": _o("str", "data_group (default: the first input warp's, else the label)"),
             "set_dist_group": _o("str", "dist_group"), "set_note": _o("str", "note"),
             "limit": _o("int", "define at most N runs (0: no limit)"),
             "simple": _o("flag", "one line per row"),
             "pretend": _o("flag", "print the selected pairs, write nothing")},
            h.definewarpwarp, None, "diffRun", True, "define warp-warp diffs (nearest earlier warp as template)",
            no_modern="'mopstool diffpairs --define' defines the night's planned visit pairs, not "
                      "difftool's nearest-template pairs"),
        "definewarpstack": Mode(
            {"warp_id": _o("int", "warpRun.warp_id ="), "exp_id": _o("int", "rawExp.exp_id ="),
             "skycell_id": _o("str", "warpSkyfile.skycell_id ="), "tess_id": _o("str", "warpRun.tess_id ="),
             "filter": _o("str", "rawExp.filter ="), "comment": _o("str", "rawExp.comment LIKE"),
             "warp_label": _o("str", "warpRun.label ="),
             "data_group": _o("str", "warpRun.data_group = (and the default -set_data_group)"),
             "stack_label": _o("str", "stackRun.label ="), "stack_data_group": _o("str", "stackRun.data_group ="),
             "good_frac": _o("float", "warpSkyfile.good_frac >="),
             "ra_min": _o("deg", "rawExp.ra >= (degrees)"), "ra_max": _o("deg", "rawExp.ra <= (degrees)"),
             "dec_min": _o("deg", "rawExp.decl >= (degrees)"), "dec_max": _o("deg", "rawExp.decl <= (degrees)"),
             "bothways": _o("flag", "diffRun.bothways = 1"),
             "rerun": _o("flag", "also pairs that have a diff"),
             "new-templates": _o("flag", "as -rerun (difftool applies it the same way)"),
             "available": _o("flag", "ignored, as difftool -definewarpstack ignores it"),
             "lap_query": _o("flag", "select as difftool_definewarpstack.sql (default: _old.sql)"),
             "set_workdir": _o("str", "workdir (required)"), "set_label": _o("str", "label (required)"),
             "set_reduction": _o("str", "reduction"), "set_registered": _o("time", "registered (default: now)"),
             "set_data_group": _o("str", "data_group (default: -data_group, else the first warp's)"),
             "set_dist_group": _o("str", "dist_group"), "set_note": _o("str", "note"),
             "simple": _o("flag", "one line per row"),
             "pretend": _o("flag", "print the selected warp-stack pairs, write nothing")},
            h.definewarpstack, None, "diffRun", True, "define warp-stack diffs (one run per exposure)",
            no_modern="'mopstool diffpairs --define' defines the night's planned warp-stack pairs, "
                      "not difftool's selection"),
    },
    "pstamptool": {
        "updatereq": Mode(
            {"req_id": _o("int", "req_id ="), "req_id_max": _o("int", "req_id <="),
             "fault": _o("int", "fault ="), "state": _o("str", "state ="),
             "reqType": _o("str", "reqType ="), "name": _o("str", "name LIKE"),
             "username": _o("str", "username ="), "label": _o("str", "label LIKE", multi=True),
             "timestamp_begin": _o("time", "timestamp >="), "timestamp_end": _o("time", "timestamp <="),
             "set_state": _o("str", "new state (a request state)", choices=tuple(RequestState)),
             "set_label": _o("str", "new label"), "set_outProduct": _o("str", "new outProduct"),
             "set_outdir": _o("str", "new outdir"), "set_fault": _o("int", "new fault (0: no change)"),
             "clearfault": _o("flag", "fault = 0"), "set_uri": _o("str", "new uri"),
             "set_name": _o("str", "new name"), "set_username": _o("str", "new username"),
             "set_reqType": _o("str", "new reqType")},
            h.updatereq, m.updatereq, "pstampRequest", True, "change requests"),
        "listreq": Mode(
            {"req_id": _o("int", "req_id ="), "not_req_id": _o("int", "req_id !="),
             "name": _o("str", "name LIKE"), "username": _o("str", "username ="),
             "state": _o("str", "state ="), "label": _o("str", "label LIKE", multi=True),
             "limit": _o("int", "LIMIT N"), "simple": _o("flag", "one line per row")},
            h.listreq, m.listreq, "pstampRequest", False, "list requests (no match: exit 3)"),
        "revertreq": Mode(
            {"req_id": _o("int", "req_id ="), "fault": _o("int", "fault ="),
             "state": _o("str", "state ="), "label": _o("str", "label LIKE", multi=True)},
            h.revertreq, m.revertreq, "pstampRequest", True, "clear request faults"),
        "listjob": Mode(
            {"req_id": _o("int", "req_id ="), "job_id": _o("int", "job_id ="), "dep_id": _o("int", "dep_id ="),
             "fault": _o("int", "fault ="), "jobType": _o("str", "jobType ="), "state": _o("str", "state ="),
             "limit": _o("int", "LIMIT N"), "simple": _o("flag", "one line per row")},
            h.listjob, None, "pstampJob", False, "list jobs (a search term is required)",
            no_modern="'mopstool pstamp-req show REQ_ID' lists one request's jobs"),
        "updatejob": Mode(
            {"req_id": _o("int", "req_id ="), "job_id": _o("int", "job_id ="), "dep_id": _o("int", "dep_id ="),
             "state": _o("str", "pstampJob.state ="), "fault": _o("int", "pstampJob.fault ="),
             "label": _o("str", "pstampRequest.label LIKE", multi=True),
             "fault_count": _o("int", "pstampJob.fault_count >="),
             "set_state": _o("str", "new job state", choices=tuple(JobState)),
             "set_fault": _o("int", "new fault (fault_count + 1; 0: unchanged)"),
             "limit": _o("int", "ignored, as pstamptool -updatejob ignores it")},
            h.updatejob, None, "pstampJob", True, "set job states or faults",
            no_modern="'mopstool pstamp-req' changes requests, not single jobs"),
        "updatedependent": Mode(
            {"dep_id": _o("int", "the dependent (required)"),
             "set_state": _o("str", "new dependent state", choices=tuple(DependentState)),
             "set_fault": _o("int", "new fault (fault_count + 1; 0: unchanged)")},
            h.updatedependent, None, "pstampDependent", True, "set a dependent's state or fault",
            no_modern="'mopstool pstamp-req' changes requests, not single dependents"),
        "revertjob": Mode(
            {"req_id": _o("int", "req_id ="), "fault": _o("int", "pstampJob.fault = (also codes >= 10)"),
             "label": _o("str", "pstampRequest.label LIKE", multi=True),
             "clear_fault_count": _o("flag", "also jobs at the retry limit; fault_count = 0"),
             "all": _o("flag", "allow no search term"),
             "limit": _o("int", "ignored, as pstamptool -revertjob ignores it"),
             "job_id": _o("int", refuse="-job_id is not supported; select by -req_id or -label"),
             "req_id_min": _o("int", refuse="-req_id_min is not supported; select by -req_id or -label")},
            h.revertjob, m.revertjob, "pstampJob", True, "clear transient job faults"),
    },
}

TOOLS = tuple(MODES)

#: modes of the C tools that mopstool does not run (named in the refusal)
UNSUPPORTED = {
    "chiptool": ("pendingimfile", "addprocessedimfile", "advanceexp", "masked",
                 "unmasked", "run",
                 "tocleanedimfile", "tofullimfile", "topurgedimfile", "toscrubbedimfile", "exportrun",
                 "importrun", "runstate"),
    "warptool": ("definerun", "exp", "imfile", "tooverlap", "addoverlap",
                 "towarped", "addwarped", "advancerun", "warped",
                 "tocleanedskyfile", "tofullskyfile", "topurgedskyfile", "toscrubbedskyfile",
                 "pendingcleanupskyfile", "donecleanup", "revertcleanup", "runstate", "masked", "exportrun", "importrun", "tosummary", "addsummary"),
    "difftool": ("definerun", "definepoprun", "definestackstack",
                 "addinputskyfile", "todiffskyfile", "adddiffskyfile", "advance",
                 "updatediffskyfile", "pendingcleanupskyfile", "donecleanup",
                 "revertcleanup", "diffskyfile", "inputskyfile", "listssrun", "tocleanedskyfile",
                 "tofullskyfile", "topurgedskyfile", "toscrubbedskyfile", "definebyquery"),
    "pstamptool": ("addreq", "pendingreq", "completedreq", "pendingcleanup", "addjob",
                   "pendingjob", "getdependent", "pendingdependent", "revertdependent", "stopdependentjob"),
}


#: why a mode the czar's recipes use is refused (said in the refusal; docs/legacy.md)
REFUSED_WHY: dict[tuple[str, str], str] = {}


def supported_modes(tool: str) -> str:
    return ", ".join("-" + n for n in MODES[tool])


def help_text(tool: str) -> str:
    lines = [f"Run a {tool} recipe unchanged (single-dash options, exactly one mode). Prints the "
             "modern equivalent on stderr and the IPP text output on stdout; exits as the C tool "
             "(3 for an unusable option or database).", "", "Supported modes:"]
    for name, mode in MODES[tool].items():
        lines.append(f"  -{name}: {mode.doc}")
    return "\n\n".join([lines[0], "\b\n" + "\n".join(lines[2:])])


def _convert(kind: str, name: str, raw: str):
    try:
        if kind == "int":
            return int(raw)
        if kind in ("float", "deg"):
            v = float(raw)
            if math.isnan(v):
                raise ValueError
            return math.radians(v) if kind == "deg" else v
        if kind == "time":
            return datetime.fromisoformat(raw.replace("Z", "").replace("T", " "))
    except ValueError:
        raise LegacyError(f"-{name}: invalid value {raw!r}") from None
    return raw


def parse(tool: str, argv: list[str]) -> LegacyCall:
    """Parse a C-tool command line (without the tool name) against the table."""
    if tool not in MODES:
        raise LegacyError(f"unknown tool {tool!r}; supported: {', '.join(TOOLS)}")
    modes = [a[1:] for a in argv if a.startswith("-") and a[1:] in MODES[tool]]
    unsupported = [a for a in argv if a.startswith("-") and a[1:] in UNSUPPORTED[tool]]
    if len(unsupported) == 1 and not modes and (tool, unsupported[0][1:]) in REFUSED_WHY:
        raise LegacyError(f"{tool} {unsupported[0]} is not supported by mopstool: "
                          f"{REFUSED_WHY[tool, unsupported[0][1:]]}")
    if not modes:
        extra = f" ({unsupported[0]} is not supported by mopstool)" if unsupported else ""
        raise LegacyError(f"{tool}: exactly one mode is required{extra}; supported modes: "
                          f"{supported_modes(tool)}")
    if len(modes) > 1 or unsupported:
        raise LegacyError(f"{tool}: only one mode may be given (found "
                          f"{', '.join('-' + x for x in modes + [u[1:] for u in unsupported])})")
    mode = modes[0]
    spec = MODES[tool][mode]
    allowed = {**CONNECTION, **spec.options}
    opts: dict[str, Any] = {}
    raw: dict[str, Any] = {}
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "-" + mode:
            i += 1
            continue
        if not a.startswith("-") or len(a) < 2:
            raise LegacyError(f"{tool} -{mode}: unexpected argument {a!r} (extra arguments)")
        name = a[1:]
        opt = allowed.get(name)
        if opt is None:
            raise LegacyError(f"{tool} -{mode}: unknown option {a}")
        if opt.kind == "flag":
            value, typed, i = True, True, i + 1
        else:
            if i + 1 >= len(argv):
                raise LegacyError(f"{tool} -{mode}: option {a} needs a value")
            typed = argv[i + 1]
            value = _convert(opt.kind, name, typed)
            i += 2
        if opt.refuse:
            raise LegacyError(f"{tool} -{mode}: option {a} is not supported: {opt.refuse}")
        if opt.choices is not None and value not in opt.choices:
            raise LegacyError(f"{tool} -{mode}: {a} {typed!r} is not valid; one of: "
                              f"{', '.join(str(c) for c in opt.choices)}")
        if opt.multi:
            opts.setdefault(name, []).append(value)
            raw.setdefault(name, []).append(typed)
        elif name in opts:
            raise LegacyError(f"{tool} -{mode}: option {a} given twice (it takes one value)")
        else:
            opts[name] = value
            raw[name] = typed
    for name, opt in spec.options.items():
        if opt.default is not None and name not in opts:
            opts[name] = opt.default
    if spec.options.get("set_mode") and "set_mode" not in opts:
        raise LegacyError(f"{tool} -{mode}: -set_mode is required (warp, diff, stack or magic)")
    return LegacyCall(tool=tool, mode=mode, opts=opts, argv=list(argv), raw=raw)


def modern_equivalent(call: LegacyCall) -> str:
    return m.render(call, MODES[call.tool][call.mode].modern(call))


# ------------------------------------------------------------------ databases for -dbname/-dbserver

def resolve_url(cfg, call: LegacyCall, explicit: str | None) -> tuple[str, str]:
    """The database a legacy call uses: --db/--pstamp-db or MOPSTOOL_DB/MOPSTOOL_PSTAMP_DB
    win; else config.legacy_database_url: the config profile named by -dbname
    (-dbserver replacing its host), else the IPP config chain (~/.ipprc, its SITE
    and SYSTEM configs) with -dbname/-dbserver/-dbport applied; pstamptool takes
    the site's PS_DBSERVER/PS_DBNAME as the IPP's stamp scripts do."""
    from mopstool.config import legacy_database_url

    if explicit:
        return explicit, "--db"
    return legacy_database_url(cfg, dbname=call.get("dbname"), dbserver=call.get("dbserver"),
                               dbport=call.get("dbport"), pstamp=call.tool == "pstamptool")


