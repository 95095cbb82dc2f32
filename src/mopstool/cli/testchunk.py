"""mopstool testchunk list / define / compare: MOPS test chunks for ops tag changes."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from mopstool.cli.common import (DryRunOpt, FormatOpt, JsonOpt, YesOpt, confirm_change, decline, info,
                                 output_format, state)
from mopstool.output import render

testchunk_app = typer.Typer(
    help="MOPS test chunks: reprocess a comparison set under a new label and compare the diff "
         "products of two processings (offsets, counts, flags, tracklet GCR).",
    no_args_is_help=True)


@testchunk_app.command("list")
def list_sets(
    ctx: typer.Context,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The configured test sets ([testchunk.sets.NAME]): chunk, night, filter, how the
    exposures are selected, the untagged label and whether the entry is complete.

    Examples:

    \b
    $ mopstool testchunk list
    $ mopstool testchunk list --json"""
    from mopstool.ops.testchunk.sets import base_label, load_sets

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    sets = load_sets(st.config)
    rows = []
    for ts in sets.values():
        d = ts.to_dict()
        d["label"] = (base_label(st.config, ts) + ".<tag>") if base_label(st.config, ts) else None
        rows.append(d)
    if fmt_ in ("json", "jsonl"):
        render(rows, fmt_)
        return
    render([{k: r[k] for k in ("name", "chunk", "night", "filter", "camera", "selection", "label", "status",
                               "description")} for r in rows], fmt_, title="test sets")


def _define_rows(res) -> list[dict]:
    return [{k: r.get(k) for k in ("chip_id", "exp_id", "exp_name", "label", "workdir", "tess_id", "end_stage")}
            for r in res.chips.runs] if res.chips else []


@testchunk_app.command("define")
def define(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Test set name (testchunk list), or its untagged label.",
                                        show_default=False)],
    tag: Annotated[str, typer.Option("--tag", help="Tag of this processing, e.g. the ops tag "
                                                   "(label MOPS.testchunk.<chunk>.<date>.<tag>).",
                                     show_default=False)],
    diffs: Annotated[bool, typer.Option(
        "--diffs", help="Also define the set's WW diffs (as diffpairs --define) for warps that are full.")] = False,
    ws: Annotated[bool, typer.Option(
        "--ws", help="With --diffs: also the warp-stack diffs (label <label>.WS).")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Reprocess a test set under a new label: chip runs (end stage warp) through the
    definebyquery code, then with --diffs its WW (and with --ws WS) diffs through the
    diffpairs code once its warps are full. A second run defines nothing new.

    Examples:

    \b
    $ mopstool testchunk define opstag --tag ipp-20180601 --dry-run
    $ mopstool testchunk define opstag --tag ipp-20180601
    $ mopstool testchunk define opstag --tag ipp-20180601 --diffs --ws"""
    from mopstool.ops.testchunk.define import define_testchunk
    from mopstool.ops.testchunk.sets import get_set

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    ts = get_set(st.config, name)
    def confirm(what: str, rows: int) -> bool:
        # the one confirm path: a "no" exits DECLINED (10), nothing written
        if not confirm_change(ctx, rows, what, yes=yes, dry_run=dry_run):
            decline()
        return True

    res = define_testchunk(st.dbs, st.config, ts, tag, diffs=diffs, ws=ws, dry_run=dry_run,
                           confirm=confirm, command=sys.argv)
    for note in res.notes:
        info(note)
    c = res.chips
    verb = "would define" if dry_run else "defined"
    if c is not None:
        info(f"{verb} {len(c.runs) if (dry_run or c.applied) else 0} chip runs with label {res.label}"
             + (f" ({len(c.skipped)} already defined)" if c.skipped else ""))
        for u in c.unmatched:
            info(f"not found: {u.get('exp_name') or u.get('exp_id')}: {u['reason']}")
    if diffs and not dry_run:
        info(f"defined {res.diffs_defined} diffRuns")
    if fmt_ in ("json", "jsonl"):
        render(res.to_dict(), fmt_)
    else:
        render(_define_rows(res), fmt_, title=f"chip runs of {res.label}")
        if diffs and fmt_ == "table":
            from mopstool.cli.nightly import _pair_rows

            sys.stdout.write("\n")
            render(_pair_rows(res.diffs), "table", title=f"diffs of {res.label}")


def _fmt_num(v, nd=3):
    return None if v is None else round(float(v), nd)


@testchunk_app.command("compare")
def compare(
    ctx: typer.Context,
    a: Annotated[str, typer.Argument(help="Reference side: a diff label, a directory of *.cmf/*.mops, "
                                          "one file, or a file listing paths.", show_default=False)],
    b: Annotated[str, typer.Argument(help="Side under test (same forms as A).", show_default=False)],
    radius: Annotated[Optional[float], typer.Option(
        "--radius", help="Match radius in arcsec (default [testchunk] match_radius_arcsec).",
        show_default=False)] = None,
    threshold: Annotated[Optional[list[str]], typer.Option(
        "--threshold", help="Override a limit of [testchunk.thresholds], NAME=VALUE (negative disables); "
                            "repeat for several.", show_default=False)] = None,
    plots: Annotated[Optional[str], typer.Option(
        "--plots", help="Write PNG plots (offsets, counts per skycell, offset vs magnitude, GCR) "
                        "into this directory.", show_default=False)] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Match the detections of A and B per exposure and skycell (mutual nearest neighbours
    within the radius) and report counts, centroid and magnitude offsets, flag rates, and
    the tracklet great-circle residuals (GCR) of each side. Exit 3 when a threshold of
    [testchunk.thresholds] is exceeded.

    --format json gives {summary, tracklets, checks, cells}; jsonl and csv give the
    per-cell rows.

    Examples:

    \b
    $ mopstool testchunk compare MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603.ref MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603.new
    $ mopstool testchunk compare old/ new/ --plots plots/ --json
    $ mopstool testchunk compare old/ new/ --threshold max_gcr_ratio=2"""
    from mopstool.errors import CheckFailed
    from mopstool.ops.testchunk.compare import compare as run_compare
    from mopstool.ops.testchunk.compare import parse_threshold_args, write_plots

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    res = run_compare(a, b, st.config, dbs_factory=lambda: st.dbs, radius_arcsec=radius,
                      thresholds=parse_threshold_args(threshold))
    if plots:
        for p in write_plots(res, plots):
            info(f"wrote {p}")
    if fmt_ == "json":
        render(res.to_dict(), fmt_)
    elif fmt_ in ("jsonl", "csv"):
        render(res.cells, fmt_)
    else:
        render([{k: (_fmt_num(v) if isinstance(v, float) else v) for k, v in r.items()
                 if k in ("exposure", "skycell", "a", "b", "matched", "only_a", "only_b", "dra_median_arcsec",
                          "ddec_median_arcsec", "offset_median_arcsec", "offset_p90_arcsec",
                          "offset_median_sigma", "offset_p90_sigma", "mag_offset_median", "flag_rate_change")}
                for r in res.cells], "table", title=f"per exposure and skycell: A={res.a} B={res.b}")
        sys.stdout.write("\n")
        render({k: (_fmt_num(v, 4) if isinstance(v, float) else v) for k, v in res.summary.items()},
               "table", title="all cells")
        sys.stdout.write("\n")
        t = res.tracklets
        render([{"side": s, **{k: (_fmt_num(v, 4) if isinstance(v, float) else v)
                               for k, v in t[s].items() if k != "tracklets_by_length"}} for s in ("a", "b")]
               + [{"side": "B/A", "gcr_median_arcsec": _fmt_num(t["gcr_ratio_median"]),
                   "gcr_p90_arcsec": _fmt_num(t["gcr_ratio_p90"])}], "table", title="tracklets")
        sys.stdout.write("\n")
        render([{**c, "value": _fmt_num(c["value"], 4)} for c in res.checks], "table", title="checks")
    bad = res.exceeded
    if bad:
        raise CheckFailed(f"compare {res.a} vs {res.b}: {len(bad)} thresholds exceeded: "
                          + ", ".join(f"{c['check']} ({_fmt_num(c['value'], 4)} > {c['limit']})" for c in bad))
    info(f"compare {res.a} vs {res.b}: within every threshold")


def register(app: typer.Typer) -> None:
    app.add_typer(testchunk_app, name="testchunk")
