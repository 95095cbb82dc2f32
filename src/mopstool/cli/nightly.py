"""mopstool lostvisits / diffpairs / czar / publish: the nightly MOPS diff checks."""

from __future__ import annotations

import sys
import textwrap
from typing import Annotated, Optional

import typer

from mopstool.cli.common import (ColumnsOpt, DryRunOpt, command_prefix, FormatOpt, JsonOpt, LabelOpt, YesOpt,
                                 confirmer, emit_result, info, output_format, state)
from mopstool.ops.results import Listing, Report, Table

TargetOpt = Annotated[Optional[list[str]], typer.Option(
    "--target", "-t", help="Survey target(s): OSS, MSS, ESS, EU, FSS... (repeat or comma-separate).",
    show_default=False)]
FilterOpt = Annotated[Optional[str], typer.Option(
    "--filter", help="Filter, e.g. w or w.00000.", show_default=False)]
ChunkOpt = Annotated[Optional[str], typer.Option(
    "--chunk", help="Only this chunk (the exposure comment up to its first space, e.g. OSSR.R20S1.12.Q.w).",
    show_default=False)]


NightArg = Annotated[Optional[str], typer.Option(
    "--night", help="The night: a UTC date YYYY-MM-DD (today, yesterday), an MJD (58309) or a GPC1 night "
                    "number (8309). Default: the current UTC date (the night just observed, early in "
                    "the Hawaii morning).", show_default=False)]


def _night(night: Optional[str]):
    from mopstool.ops.nightly.nights import parse_night

    return parse_night(night)


def _prefix(ctx: typer.Context) -> str:
    return command_prefix(ctx)


def _pairs_text(pairs) -> str:
    return " ".join(f"{a}-{b}" for a, b in pairs)


def lostvisits(
    ctx: typer.Context,
    night: NightArg = None,
    target: TargetOpt = None,
    filter_: FilterOpt = None,
    chunk: ChunkOpt = None,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Visits of every field group (object + chunk + filter) of the diffable targets:
    which exist and in what state, which are lost and why, and the alternate pairs
    that recover a triple (v1 lost: 2-3, v2: 1-3, v3: 2-4, v4: 2-3).

    Exit 3 when any visit is lost (missing, faulted, bad quality, FWHM above the cut,
    warp dropped, or still processing)."""
    from mopstool.errors import CheckFailed
    from mopstool.ops.nightly.visits import OK, lostvisits as lost_report

    st = state(ctx)
    output_format(ctx, fmt, as_json)    # a bad --format is refused before the work
    d = _night(night)
    rows = lost_report(st.dbs, st.config, d, targets=target, filter=filter_, chunk=chunk)
    flat = [{"target": r["target"], "object": r["object"], "chunk": r["chunk"], "filter": r["filter"],
             "visits": " ".join(f"{v['visit']}:{v['status']}" for v in r["visits"]),
             "lost": " ".join(str(n) for n in r["lost"]),
             "regular": _pairs_text(r["regular_pairs"]),
             "desperate": _pairs_text(r["desperate_pairs"]),
             "alternate": _pairs_text(r["alternate_pairs"])} for r in rows]
    details = [{"target": r["target"], "object": r["object"], "visit": v["visit"],
                "exp_name": v["exp_name"], "status": v["status"], "reason": v["reason"]}
               for r in rows for v in r["visits"] if v["status"] != OK]
    emit_result(ctx, Report(rows, [Table(flat, title=f"visits of {d}"),
                                   Table(details, title="lost visits", optional=True, blank_before=True)]),
                fmt, as_json)
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
                    "diff_id": p["diff_id"], "data_group": p["data_group"], "note": p["note"]})
    return out


def diffpairs(
    ctx: typer.Context,
    night: NightArg = None,
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
        "--status", help="Only pairs in this status (exists, planned, waiting, defined, unplanned); "
                         "repeat to OR.",
        show_default=False)] = None,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    columns: ColumnsOpt = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The WW diff plan of the night per field group: regular pairs, desperate pairs
    and (with --ws) warp-stack diffs, each exists / planned / waiting, and every other
    diff of the night's fields as 'unplanned' (a .multi diff, a second diff of a pair:
    never publish those). A pair exists only under the target's nightly data_group;
    diffs of the same visits under other labels are shown, not counted. --define
    creates the planned ones in one transaction; a second run defines nothing.

    Exit 3 when pairs are due and not defined (planned, with skycells to diff,
    whatever --status shows), also after --define --dry-run."""
    from mopstool.errors import CheckFailed, UsageError
    from mopstool.ops.nightly.diffpairs import PAIR_STATUSES, plan_diffpairs
    from mopstool.ops.nightly.diffwrites import define_diffpairs

    st = state(ctx)
    output_format(ctx, fmt, as_json)    # a bad --format is refused before the work
    bad = [x for x in status or [] if x not in PAIR_STATUSES]
    if bad:
        raise UsageError(f"unknown --status {bad[0]!r}; choose from: {', '.join(PAIR_STATUSES)}")
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
        else:
            done = define_diffpairs(st.dbs, st.config, plan, command=sys.argv,
                                    confirm=confirmer(ctx, "diffpairs --define", yes=yes,
                                                      count=lambda p: p.rows.get("diffRun", 0)))
            info(f"defined {len(done)} diffRuns with {sum(len(p.skycells) for p in done)} "
                 "diffInputSkyfile rows")
    rows = plan.rows()
    if status:
        rows = [r for r in rows if r["status"] in status]
    emit_result(ctx, Listing(_pair_rows(rows), json=rows, title=f"diff pairs of {d}"), fmt, as_json)
    due = [p for p in plan.pairs if p.definable]
    if due:
        raise CheckFailed(f"diffpairs {d}: {len(due)} pairs due and not defined (--define)")


def _stage_cell(c: dict, detail: bool = True) -> str:
    cell = f"{c['done']}/{c['total']}"
    if not detail:
        return cell
    extra = "".join(f"{c[k]}{k[0]}" for k in ("pending", "faulted") if c[k])
    if c["bad_quality"]:
        extra += f"{c['bad_quality']}q"
    return cell + (" " + extra if extra else "")


def _plain_table(rows: list[dict], cols: list[str]) -> list[str]:
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in cols]
    out = ["  ".join(c.ljust(w) for c, w in zip(cols, widths)).rstrip()]
    out += ["  ".join(str(r[c]).ljust(w) for c, w in zip(cols, widths)).rstrip() for r in rows]
    return out


def summary_lines(rep: dict, width: int = 80) -> list[str]:
    """The per-target stage table, never wider than *width* (the p/f/q details
    go first, then long target names are cut)."""
    from mopstool.stages import stages_that

    cols = ["target", *stages_that("nightly")]
    busy = [t for t in rep["targets"] if any(c["total"] for c in t["stages"].values())]
    idle = [t["target"] for t in rep["targets"] if t not in busy]
    for detail in (True, False):
        rows = [{"target": t["target"], **{s: _stage_cell(c, detail) for s, c in t["stages"].items()}}
                for t in busy]
        lines = _plain_table(rows, cols) if rows else []
        if all(len(x) <= width for x in lines):
            break
    lines = [x[:width] for x in lines]
    head = f"czar {rep['night']}: done/total (p pending, f faulted, q bad quality)"
    if idle:
        lines.append(_cut("no runs: " + ", ".join(idle), width))
    return [head[:width], *lines]


def _cut(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 3] + "..."


def group_lines(groups: list[dict], width: int = 80, examples: int = 2) -> list[str]:
    """One block per group: a header (count, kind, targets, ids), at most
    *examples* meanings, then the fix as one whole line (or what a person should
    look at)."""
    out: list[str] = []
    for i, g in enumerate(groups, 1):
        who = ",".join(g["targets"]) or "-"
        ids = f" ids {g['ids_compact']}" if g["ids_compact"] else ""
        tag = "needs a person" if not g["fix"] else "fix"
        out.append(_cut(f"[{i}] {g['count']} {'+'.join(g['kinds'])} ({who}){ids} - {tag}:", width))
        for m in g["meanings"][:examples]:
            out += textwrap.wrap(m, width, initial_indent="    ", subsequent_indent="      ",
                                 break_on_hyphens=False)
        if len(g["meanings"]) > examples:
            out.append(f"    ... and {len(g['meanings']) - examples} more (czar --json lists all)")
        if g["fix"]:
            out.append(g["fix"])
        else:
            out += textwrap.wrap(f"look at: {g['person']}", width, initial_indent="    ",
                                 subsequent_indent="      ", break_on_hyphens=False)
        out.append("")
    return out


def czar(
    ctx: typer.Context,
    night: NightArg = None,
    target: TargetOpt = None,
    chunk: ChunkOpt = None,
    fixes: Annotated[bool, typer.Option(
        "--fixes", help="Print only the fix commands, one per line, each once (review them, or pipe "
                        "to sh). Problems that need a person are counted on stderr.")] = False,
    watch: Annotated[bool, typer.Option(
        "--watch", help="Refresh in place on the terminal (Ctrl-C stops); needs a terminal.")] = False,
    every: Annotated[Optional[str], typer.Option(
        "--every", help="Refresh interval of --watch: 30s, 5m (default), 1h.", show_default=False)] = None,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """The early-morning check: per target and stage (chip, cam, warp, diff, publish)
    done/total runs, then the problems grouped by the command that clears them (one
    command per group, printed as a whole line), or marked 'needs a person' with
    what to look at. Printed commands carry the connection options given here.
    Exit 0 when clean, 3 when attention is needed (also for a night with no exposures).
    --watch refreshes it in place, highlights changes and announces chunks that
    become ready for their desperate diffs."""
    from mopstool.errors import CheckFailed
    from mopstool.ops.nightly.czar import czar_report

    st = state(ctx)
    fmt_ = output_format(ctx, fmt, as_json)
    d = _night(night)
    if watch or every is not None:
        from mopstool.cli.report import watch_czar

        return watch_czar(ctx, d, watch=watch, every=every, fmt=fmt_, targets=target, chunk=chunk)
    rep = czar_report(st.dbs, st.config, d, prefix=_prefix(ctx), targets=target, chunk=chunk)
    for note in rep["notes"]:
        info(note)
    for w in rep["warnings"]:
        info(f"warning: {w}")
    for sk in rep.get("skipped", []):
        info("\n".join(textwrap.wrap(f"skipped {sk['check']}: {sk['why']}", 80, subsequent_indent="  ",
                                      break_on_hyphens=False)))
    if fixes:
        cmds = list(dict.fromkeys(g["fix"] for g in rep["groups"] if g["fix"]))
        sys.stdout.write("".join(c + "\n" for c in cmds))
        people = sum(g["count"] for g in rep["groups"] if not g["fix"])
        if people:
            info(f"{people} problems need a person (not in --fixes; see czar without --fixes)")
    else:
        lines = summary_lines(rep)
        if rep["problems"]:
            ng = len(rep["groups"])
            lines += ["", f"{len(rep['problems'])} problems, {ng} fix{'es' if ng != 1 else ''} "
                          "(one command per group):", ""]
            lines += group_lines(rep["groups"])
        csv = Table(rep["problems"], ["kind", "target", "stage", "id", "component", "fault", "meaning", "fix",
                                      "person"])
        emit_result(ctx, Report(rep, csv=csv, jsonl=rep["problems"], text=lines), fmt_)
    if rep["status"] != "clean":
        raise CheckFailed(f"czar {rep['night']}: {len(rep['problems'])} problems need attention")
    info(f"czar {rep['night']}: clean")


def publish(
    ctx: typer.Context,
    diff_id: Annotated[Optional[list[int]], typer.Option(
        "--diff-id", help="Diff run to publish; repeat for several.", show_default=False)] = None,
    night: NightArg = None,
    label: LabelOpt = None,
    client: Annotated[Optional[str], typer.Option(
        "--client", help="publishClient name or id (default: every active diff client).",
        show_default=False)] = None,
    rerun: Annotated[bool, typer.Option("--rerun", help="Publish again diffs that have a publishRun.")] = False,
    set_label: Annotated[Optional[str], typer.Option(
        "--set-label", help="Label of the new publishRuns (default: the diff's label).",
        show_default=False)] = None,
    revert: Annotated[bool, typer.Option(
        "--revert", help="Instead of publishing: clear failed publish attempts (pubtool -revert: delete "
                         "the faulted publishDone rows of publishRuns still 'new') so they are tried "
                         "again; the same as 'revert publish'.")] = False,
    dry_run: DryRunOpt = False,
    yes: YesOpt = False,
    fmt: FormatOpt = None,
    as_json: JsonOpt = False,
) -> None:
    """Queue finished diffs for the MOPS DataStore (pubtool -definerun): one publishRun
    per active diff client and diff in full/cleaned state with a good skycell, in one
    INSERT. With --night and no --label: the nightly labels and data_groups of the
    publishing targets, so .multi diffs are never published; with --night, diffs the
    night's plan does not have (unplanned) are left out. --revert clears faulted
    publish attempts instead (as 'revert publish'). A --diff-id that does not exist exits 65."""
    from mopstool.errors import UsageError
    from mopstool.ops.nightly.diffpairs import UNPLANNED, plan_diffpairs, publish_data_groups, publish_labels
    from mopstool.ops.nightly.diffwrites import publish_diffs, revert_publish

    st = state(ctx)
    output_format(ctx, fmt, as_json)    # a bad --format is refused before the work
    d = _night(night) if night else None
    if revert:
        for opt, val in (("--rerun", rerun), ("--set-label", set_label)):
            if val:
                raise UsageError(f"{opt} does not apply to --revert")
        kw = dict(diff_ids=diff_id, night=d, labels=label, client=client)
        rows = revert_publish(st.dbs, dry_run=dry_run, command=sys.argv,
                              confirm=confirmer(ctx, "publish --revert", yes=yes), **kw)
        info(f"{'would revert' if dry_run else 'reverted'} {len(rows)} failed publish attempts")
        emit_result(ctx, Listing(rows, title="publish faults"), fmt, as_json)
        return
    labels = label or (publish_labels(st.config, d) if d and not diff_id else None)
    groups = publish_data_groups(st.config, d) if d and not label and not diff_id else None
    exclude: set[int] = set()
    if d is not None:
        plan = plan_diffpairs(st.dbs, st.config, d, ws=False)
        exclude = {p.diff_id for p in plan.pairs if p.status == UNPLANNED}
        if exclude:
            info(f"left out {len(exclude)} unplanned diffs of {d} (see 'diffpairs --status unplanned')")
    kw = dict(diff_ids=diff_id, night=d, labels=labels, client=client, rerun=rerun, data_groups=groups,
              exclude_ids=exclude)
    rows = publish_diffs(st.dbs, set_label=set_label, dry_run=dry_run, command=sys.argv,
                         confirm=confirmer(ctx, "publish", yes=yes), **kw)
    info(f"{'would define' if dry_run else 'defined'} {len(rows)} publishRuns")
    emit_result(ctx, Listing(rows, title="publish runs"), fmt, as_json)


def register(app: typer.Typer) -> None:
    app.command("lostvisits")(lostvisits)
    app.command("diffpairs")(diffpairs)
    app.command("czar")(czar)
    app.command("publish")(publish)
