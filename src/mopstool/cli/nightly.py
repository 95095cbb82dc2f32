"""mopstool lostvisits / diffpairs / czar / publish: the nightly MOPS diff checks."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from mopstool.cli.common import (DryRunOpt, FormatOpt, JsonOpt, LabelOpt, NightOpt, YesOpt,
                                 confirm_change, info, output_format, state)
from mopstool.output import render

TargetOpt = Annotated[Optional[list[str]], typer.Option(
    "--target", "-t", help="Survey target(s): OSS, MSS, ESS, EU, FSS... (repeat or comma-separate).",
    show_default=False)]
FilterOpt = Annotated[Optional[str], typer.Option(
    "--filter", help="Filter, e.g. w or w.00000.", show_default=False)]
ChunkOpt = Annotated[Optional[str], typer.Option(
    "--chunk", help="Only this chunk (the exposure comment up to its first space, e.g. OSSR.R20S1.12.Q.w).",
    show_default=False)]


def _night(night: Optional[str]):
    from mopstool.config import parse_night

    return parse_night(night)


def _pairs_text(pairs) -> str:
    return " ".join(f"{a}-{b}" for a, b in pairs)


def lostvisits(
    ctx: typer.Context,
    night: NightOpt = None,
    target: TargetOpt = None,
    filter_: FilterOpt = None,
    chunk: ChunkOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Visits of every field group (object + chunk + filter) of the diffable targets:
    which exist and in what state, which are lost and why, and the alternate pairs
    that recover a triple (v1 lost: 2-3, v2: 1-3, v3: 2-4, v4: 2-3).

    Exit 3 when any visit is lost (missing, faulted, bad quality, FWHM above the cut,
    warp dropped, or still processing)."""
    from mopstool.errors import CheckFailed
    from mopstool.ops.nightly.visits import lostvisits as lost_report

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    d = _night(night)
    rows = lost_report(st.dbs, st.config, d, targets=target, filter=filter_, chunk=chunk)
    if fmt_ in ("json", "jsonl"):
        render(rows, fmt_)
    else:
        flat = [{"target": r["target"], "object": r["object"], "chunk": r["chunk"], "filter": r["filter"],
                 "visits": " ".join(f"{v['visit']}:{v['status']}" for v in r["visits"]),
                 "lost": " ".join(str(n) for n in r["lost"]),
                 "regular": _pairs_text(r["regular_pairs"]),
                 "alternate": _pairs_text(r["alternate_pairs"])} for r in rows]
        render(flat, fmt_, title=f"visits of {d}")
        if fmt_ == "table":
            details = [{"target": r["target"], "object": r["object"], "visit": v["visit"],
                        "exp_name": v["exp_name"], "status": v["status"], "reason": v["reason"]}
                       for r in rows for v in r["visits"] if v["status"] != "ok"]
            if details:
                sys.stdout.write("\n")
                render(details, "table", title="lost visits")
    nlost = sum(len(r["lost"]) for r in rows)
    if not rows:
        info(f"no exposures of the selected targets on {d}")
    if nlost:
        nfields = sum(1 for r in rows if r["lost"])
        raise CheckFailed(f"{nlost} visits lost in {nfields} of {len(rows)} field groups on {d}")


def _side(x: dict) -> str:
    warp = f"warp {x['warp_id']}" if x.get("warp_id") else "no warp"
    return f"v{x['visit']} {x['exp_name']} {warp}"


def _pair_rows(pairs: list[dict]) -> list[dict]:
    out = []
    for p in pairs:
        i, t = p["input"], p["template"]
        tpl = (_side(t) if t.get("exp_id") else f"stack {t['stack_id']}" if t.get("stack_id") else "")
        out.append({"target": p["target"], "object": p["object"], "chunk": p["chunk"], "filter": p["filter"],
                    "kind": p["kind"], "input": _side(i),
                    "template": tpl, "skycell_id": p["skycell_id"], "status": p["status"],
                    "diff_id": p["diff_id"], "note": p["note"]})
    return out


def diffpairs(
    ctx: typer.Context,
    night: NightOpt = None,
    target: TargetOpt = None,
    filter_: FilterOpt = None,
    chunk: ChunkOpt = None,
    desperate: Annotated[bool, typer.Option(
        "--desperate", help="Make desperate pairs due now (otherwise: desdiffdt hours after the chunk's "
                            "last visit, or at end of night).")] = False,
    ws: Annotated[bool, typer.Option(
        "--ws", help="Also plan warp-stack diffs against the target's template stacks.")] = False,
    define: Annotated[bool, typer.Option(
        "--define", help="Create the planned diffs (as difftool -definewarpwarp -backwards).")] = False,
    status: Annotated[Optional[list[str]], typer.Option(
        "--status", help="Only pairs in this status (exists, planned, waiting, defined); repeat to OR.",
        show_default=False)] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The WW diff plan of the night per field group: regular pairs, desperate pairs
    and (with --ws) warp-stack diffs, each exists / planned / waiting. --define creates
    the planned ones in one transaction; a second run defines nothing."""
    from mopstool.ops.nightly.diffpairs import define_diffpairs, plan_diffpairs

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    d = _night(night)
    plan = plan_diffpairs(st.dbs, st.config, d, targets=target, filter=filter_, chunk=chunk,
                          desperate=desperate, ws=ws)
    for note in plan.notes:
        info(note)
    if define:
        todo = [p for p in plan.pairs if p.definable]
        nsky = sum(len(p.skycells) for p in todo)
        if dry_run:
            info(f"dry run: would define {len(todo)} diffRuns with {nsky} diffInputSkyfile rows")
        elif not todo:
            info("nothing to define")
        elif confirm_change(ctx, len(todo), "diffpairs --define", yes=yes, dry_run=dry_run):
            done = define_diffpairs(st.dbs, st.config, plan, command=sys.argv)
            info(f"defined {len(done)} diffRuns with {sum(len(p.skycells) for p in done)} "
                 "diffInputSkyfile rows")
        else:
            info("nothing defined")
            raise typer.Exit(1)
    rows = plan.rows()
    if status:
        rows = [r for r in rows if r["status"] in status]
    if fmt_ in ("json", "jsonl"):
        render(rows, fmt_)
    else:
        render(_pair_rows(rows), fmt_, title=f"diff pairs of {d}")


def _stage_cell(c: dict) -> str:
    cell = f"{c['done']}/{c['total']}"
    extra = [f"{c[k]}{k[0]}" for k in ("pending", "faulted") if c[k]]
    if c["bad_quality"]:
        extra.append(f"{c['bad_quality']}q")
    return cell + (" " + " ".join(extra) if extra else "")


def czar(
    ctx: typer.Context,
    night: NightOpt = None,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Refresh in place on the terminal (Ctrl-C stops); needs a terminal.")] = False,
    every: Annotated[Optional[str], typer.Option(
        "--every", help="Refresh interval of --watch: 30s, 5m (default), 1h.", show_default=False)] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The early-morning check: per target and stage (chip, cam, warp, diff, publish)
    total, done, pending, faulted and bad-quality runs, then every problem with its
    meaning and a runnable fix. Exit 0 when clean, 3 when attention is needed.
    --watch refreshes it in place, highlights changes and announces chunks that
    become ready for their desperate diffs."""
    from mopstool.errors import CheckFailed
    from mopstool.ops.nightly.czar import czar_report

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    d = _night(night)
    if watch or every is not None:
        from mopstool.cli.report import watch_czar

        return watch_czar(ctx, d, watch=watch, every=every, fmt=fmt_)
    rep = czar_report(st.dbs, st.config, d)
    for note in rep["notes"]:
        info(note)
    if fmt_ == "json":
        render(rep, fmt_)
    elif fmt_ in ("jsonl", "csv"):
        render(rep["problems"], fmt_, columns=["kind", "target", "stage", "id", "component", "fault",
                                               "meaning", "fix"] if fmt_ == "csv" else None)
    else:
        summary = [{"target": t["target"], **{s: _stage_cell(c) for s, c in t["stages"].items()}}
                   for t in rep["targets"]]
        render(summary, "table", title=f"czar {rep['night']}: done/total (p pending, f faulted, q bad quality)")
        if rep["problems"]:
            sys.stdout.write("\n")
            render([{k: p[k] for k in ("kind", "target", "stage", "id", "component", "fault", "meaning", "fix")}
                    for p in rep["problems"]], "table", title="problems")
    if rep["status"] != "clean":
        raise CheckFailed(f"czar {rep['night']}: {len(rep['problems'])} problems need attention")
    info(f"czar {rep['night']}: clean")


def publish(
    ctx: typer.Context,
    diff_id: Annotated[Optional[list[int]], typer.Option(
        "--diff-id", help="Diff run to publish; repeat for several.", show_default=False)] = None,
    night: NightOpt = None,
    label: LabelOpt = None,
    client: Annotated[Optional[str], typer.Option(
        "--client", help="publishClient name or id (default: every active diff client).",
        show_default=False)] = None,
    rerun: Annotated[bool, typer.Option("--rerun", help="Publish again diffs that have a publishRun.")] = False,
    set_label: Annotated[Optional[str], typer.Option(
        "--set-label", help="Label of the new publishRuns (default: the diff's label).",
        show_default=False)] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue finished diffs for the MOPS DataStore (pubtool -definerun): one publishRun
    per active diff client and diff in full/cleaned state with a good skycell. With
    --night and no --label, the nightly labels of the publishing targets are used."""
    from mopstool.ops.nightly.diffpairs import publish_diffs, publish_labels, unpublished_query

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    d = _night(night) if night else None
    labels = label or (publish_labels(st.config, d) if d and not diff_id else None)
    kw = dict(diff_ids=diff_id, night=d, labels=labels, client=client, rerun=rerun)
    if not dry_run:
        with st.dbs.connect() as conn:
            n = len(conn.execute(unpublished_query(**kw)).fetchall()) if (diff_id or d or labels) else 0
        if not confirm_change(ctx, n, "publish", yes=yes, dry_run=dry_run):
            info("nothing published")
            raise typer.Exit(1)
    rows = publish_diffs(st.dbs, set_label=set_label, dry_run=dry_run, command=sys.argv, **kw)
    info(f"{'would define' if dry_run else 'defined'} {len(rows)} publishRuns")
    render(rows, fmt_, title="publish runs")


def register(app: typer.Typer) -> None:
    app.command("lostvisits")(lostvisits)
    app.command("diffpairs")(diffpairs)
    app.command("czar")(czar)
    app.command("publish")(publish)
