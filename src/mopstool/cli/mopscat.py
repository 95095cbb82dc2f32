"""mopstool mopscat build / check / show: the .mops catalog for MOPS."""

from __future__ import annotations

from typing import Annotated, Optional

import typer

from mopstool.cli.common import FormatOpt, JsonOpt, NightOpt, info, output_format, state
from mopstool.errors import CheckFailed, UsageError
from mopstool.output import render

mopscat_app = typer.Typer(
    help="Build, check and summarise .mops catalogs (the ppMops replacement, revised format).",
    no_args_is_help=True)


@mopscat_app.command("build")
def build(
    ctx: typer.Context,
    files: Annotated[Optional[list[str]], typer.Argument(
        help="Diff CMF files of one exposure (instead of --diff-id); prefix WS: etc. with --merge.",
        show_default=False)] = None,
    diff_id: Annotated[Optional[list[int]], typer.Option(
        "--diff-id", help="Diff run to read from the database; repeat for several diffs of the "
                          "exposure.", show_default=False)] = None,
    inverse: Annotated[bool, typer.Option(
        "--inverse", help="The inverse direction (<path_base>.inv.cmf, the second exposure).")] = False,
    merge: Annotated[bool, typer.Option(
        "--merge", help="One product from the WW and WS diffs of the same exposure (rows tagged by "
                        "DIFFTYPE).")] = False,
    output: Annotated[Optional[str], typer.Option(
        "--output", "-o", help="Output .mops file (default from [mopscat] output, in the current "
                               "directory).", show_default=False)] = None,
    zp: Annotated[Optional[float], typer.Option(
        "--zp", help="Zero point to add to PSF_INST_MAG (default: zpt_obs + 2.5 log10(exp_time) of "
                     "the input exposure).", show_default=False)] = None,
    zp_err: Annotated[Optional[float], typer.Option(
        "--zp-err", help="Zero-point error for MAGZPERR (default camProcessedExp.zpt_stdev).",
        show_default=False)] = None,
    difftype: Annotated[Optional[str], typer.Option(
        "--difftype", help="Diff type of CMF file arguments: WW (default), WS, SW or SS.",
        show_default=False)] = None,
    diff_skyfile_id: Annotated[Optional[int], typer.Option(
        "--diff-skyfile-id", help="IMAGEID of a single CMF file whose header lacks it.",
        show_default=False)] = None,
    exp_name: Annotated[Optional[str], typer.Option(
        "--exp-name", help="Exposure name (files: default the CMF's FPA.OBS).", show_default=False)] = None,
    exp_id: Annotated[Optional[int], typer.Option(
        "--exp-id", help="Exposure id (files: header EXP_ID; --merge: the exposure to pick).",
        show_default=False)] = None,
    cmf_version: Annotated[Optional[int], typer.Option(
        "--cmf-version", help="Write this PS1_DV version (1-5) instead of the inputs' version.",
        show_default=False)] = None,
    camera: Annotated[Optional[str], typer.Option(
        "--camera", help="Camera for OBSCODE: GPC1 (F51) or GPC2 (F52); default from the exposure.",
        show_default=False)] = None,
    night: NightOpt = None,
    outdir: Annotated[Optional[str], typer.Option(
        "--outdir", help="With --night: directory for the products (default: the current one).",
        show_default=False)] = None,
    workers: Annotated[Optional[int], typer.Option(
        "--workers", help="With --night: build in N processes on this node (default: the cores).",
        show_default=False)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        "--scheduler", help="With --night: build on the Dask distributed scheduler at ADDRESS "
                            "(host:port); needs the [dask] extra.", show_default=False)] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Build the .mops catalog of one exposure from its diff CMF files.

    Applies the ppMops cuts, resolves duplicates across overlapping skycells
    (within 1 arcsec, the detection nearest its skycell centre wins) and writes
    MOPS_TRANSIENT_DETECTIONS, MOPS_ALL_DETECTIONS and MOPS_SKYCELLS. With --night,
    every product of the night (each diff's forward catalog, and the inverse of warp-warp
    diffs made both ways), one task per product (--workers, --scheduler); exit 3 when
    some product could not be built."""
    from mopstool.ops.mopscat.build import BuildRequest
    from mopstool.ops.mopscat.build import build as do_build

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    if night is not None:
        given = [n for n, v in (("FILES", files), ("--diff-id", diff_id), ("--inverse", inverse),
                                ("--merge", merge), ("--output", output), ("--difftype", difftype),
                                ("--diff-skyfile-id", diff_skyfile_id), ("--exp-name", exp_name),
                                ("--exp-id", exp_id), ("--zp-err", zp_err), ("--camera", camera)) if v]
        if given:
            raise UsageError(f"--night builds every product of the night; drop {', '.join(given)}")
        _build_night(ctx, night, outdir=outdir, zp=zp, version=cmf_version, workers=workers,
                     scheduler=scheduler, fmt_=fmt_)
        return
    for opt, v in (("--outdir", outdir), ("--workers", workers), ("--scheduler", scheduler)):
        if v is not None:
            raise UsageError(f"{opt} goes with --night")
    req = BuildRequest(files=list(files or []), diff_ids=list(diff_id or []), inverse=inverse,
                       merge=merge, output=output, zp=zp, zp_err=zp_err, difftype=difftype,
                       diff_skyfile_id=diff_skyfile_id, exp_name=exp_name, exp_id=exp_id,
                       version=cmf_version, camera=camera)
    result, skipped = do_build(req, config=st.config, dbs_factory=lambda: st.dbs)
    for s in skipped:
        info(f"skipped diff {s['diff_id']} {s['skycell_id']}: {s['reason']}")
    for note in result.notes:
        info(f"note: {note}")
    if fmt_ in ("json", "jsonl"):
        data = result.to_dict()
        data["skipped"] = skipped
        render(data, fmt_)
        return
    if fmt_ == "csv":
        render(result.skycells, fmt_)
        return
    summary = {k: v for k, v in result.to_dict().items() if k not in ("skycells", "notes")}
    render(summary, "table", title="mopscat build")
    render(result.skycells, "table", title="skycells")
    info(f"wrote {result.output}: {result.rows} detections, {result.duplicates} duplicates dropped")


def _build_night(ctx, night, *, outdir, zp, version, workers, scheduler, fmt_) -> None:
    from mopstool.config import parse_night
    from mopstool.ops.mopscat.build import build_night
    from mopstool.ops.parallel import Execution

    st = state(ctx)
    execution = Execution.from_options(workers, scheduler)
    from mopstool.cli.progress import progress_bar

    with progress_bar(fmt=fmt_) as progress:
        rows = build_night(parse_night(night), config=st.config, dbs_factory=lambda: st.dbs,
                           outdir=outdir or ".", version=version, zp=zp, execution=execution,
                           progress=progress)
    render(rows, fmt_, title="mopscat build --night",
           columns=None if fmt_ != "table" else ("diff_id", "direction", "exp_name", "rows", "duplicates",
                                                 "output", "error"))
    bad = [r for r in rows if r["error"]]
    info(f"{len(rows) - len(bad)} product(s) built" + (f", {len(bad)} not built" if bad else ""))
    if bad:
        raise CheckFailed(f"{len(bad)} product(s) of the night could not be built")


@mopscat_app.command("check")
def check(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help=".mops file to validate.", show_default=False)],
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Validate a .mops file (exit 3 when it has problems).

    Checks the extensions, header keywords, columns per CMFVERSION, that no
    row is flagged (FLAGS & 0x13C08) or non-finite, the WS cuts on WS rows,
    that no two rows of different skycells lie within 1 arcsec, and for
    mopstool files the revision columns and MOPS_ALL_DETECTIONS."""
    from mopstool.ops.mopscat.build import check_file

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    rep = check_file(file, config=st.config)
    for note in rep.notes:
        info(f"note: {note}")
    if fmt_ in ("json", "jsonl"):
        render(rep.to_dict(), fmt_)
    elif fmt_ == "csv":
        render(rep.problems, fmt_, columns=["check", "message"])
    else:
        d = rep.to_dict()
        render({k: d[k] for k in ("file", "ok", "format", "cmfversion", "rows")}, "table",
               title="mopscat check")
        render(rep.problems, "table", title="problems", columns=["check", "message"])
    if not rep.ok:
        raise CheckFailed(f"{file}: {len(rep.problems)} problem(s) found")


@mopscat_app.command("show")
def show(
    ctx: typer.Context,
    file: Annotated[str, typer.Argument(help=".mops file to summarise.", show_default=False)],
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Summarise a .mops file: rows, rows per skycell and the header."""
    from mopstool.ops.mopscat.build import show_file

    fmt_ = output_format(ctx, fmt, as_json)
    data = show_file(file)
    if fmt_ in ("json", "jsonl"):
        render(data, fmt_)
        return
    if fmt_ == "csv":
        render(data["skycells"], fmt_)
        return
    top = {k: v for k, v in data.items() if k not in ("skycells", "header")}
    render(top, "table", title="mopscat show")
    render(data["skycells"], "table", title="skycells")
    render([{"keyword": k, "value": v} for k, v in data["header"].items()], "table", title="header")


def register(app: typer.Typer) -> None:
    app.add_typer(mopscat_app, name="mopscat")
