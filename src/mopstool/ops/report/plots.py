"""The night's plots, drawn with matplotlib as inline SVG text.

Only ``mopstool report`` imports this module, and matplotlib is imported
inside the functions (object-oriented Figure API: no pyplot, no global
backend), so no other command pays for it.
"""

from __future__ import annotations

import io
from typing import Any

#: one colour per target, in config order (matplotlib's tab10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")


def _svg(fig, salt: str) -> str:
    import matplotlib

    buf = io.StringIO()
    # a salt per figure keeps the element ids of several inline SVGs apart
    with matplotlib.rc_context({"svg.hashsalt": salt, "svg.fonttype": "none"}):
        fig.savefig(buf, format="svg", metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _colours(rows: list[dict]) -> dict[str, str]:
    targets = list(dict.fromkeys(r["target"] for r in rows))
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(targets)}


def _time_axis(ax) -> None:
    from matplotlib.dates import DateFormatter

    ax.xaxis.set_major_formatter(DateFormatter("%H:%M"))
    ax.set_xlabel("dateobs (UTC)")
    ax.grid(True, alpha=0.3)


def quality_plot(rows: list[dict], column: str, *, ylabel: str, title: str, cut_column: str | None = None,
                 salt: str) -> str:
    """*column* of each exposure against its dateobs, one colour per target;
    with *cut_column*, each target's cut drawn as a dashed line."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.4), dpi=100)
    fig.subplots_adjust(left=0.09, right=0.80, top=0.90, bottom=0.16)
    ax = fig.add_subplot()
    colours = _colours(rows)
    for target, colour in colours.items():
        pts = [(r["dateobs"], r[column], r) for r in rows
               if r["target"] == target and r["dateobs"] is not None and r[column] is not None]
        if not pts:
            continue
        ax.scatter([p[0] for p in pts], [p[1] for p in pts], s=18, color=colour, label=target, zorder=3)
        bad = [p for p in pts if p[2]["visit_status"] != "ok"]
        if bad:
            ax.scatter([p[0] for p in bad], [p[1] for p in bad], s=70, facecolors="none",
                       edgecolors="#c62828", linewidths=1.2, zorder=4)
        if cut_column:
            cuts = {p[2][cut_column] for p in pts if p[2].get(cut_column) is not None}
            for cut in cuts:
                xs = [p[0] for p in pts]
                ax.hlines(cut, min(xs), max(xs), colors=colour, linestyles="dashed", linewidth=1.2)
    if cut_column:
        cuts = sorted({r[cut_column] for r in rows if r.get(cut_column) is not None})
        if cuts:
            ax.plot([], [], "k--", linewidth=1.2, label="FWHM cut " + ", ".join(f"{c:g}" for c in cuts))
    ax.scatter([], [], s=70, facecolors="none", edgecolors="#c62828", label="visit not usable")
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=11)
    _time_axis(ax)
    # a fixed place: loc="best" searches every point and costs more than the plot
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _svg(fig, salt)


def detections_plot(diffs: list[dict[str, Any]], *, salt: str = "detections") -> str:
    """Detections (sum of diffSkyfile.sources) per diff run, one bar each."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8.0, 3.4), dpi=100)
    fig.subplots_adjust(left=0.09, right=0.86, top=0.90, bottom=0.27)
    ax = fig.add_subplot()
    diffs = [d for d in diffs if d["sources"] is not None]
    if not diffs:
        ax.text(0.5, 0.5, "no diff skycells with detections yet", ha="center", va="center",
                transform=ax.transAxes)
        ax.set_axis_off()
        return _svg(fig, salt)
    colours = _colours(diffs)
    xs = list(range(len(diffs)))
    ax.bar(xs, [d["sources"] for d in diffs], color=[colours[d["target"]] for d in diffs],
           edgecolor=["#c62828" if d["faulted"] else "none" for d in diffs], linewidth=1.5)
    from matplotlib.patches import Patch

    handles = [Patch(color=c, label=t) for t, c in colours.items()]
    step = max(1, -(-len(diffs) // 12))  # at most 12 labelled ticks: tick labels are the costly part
    ax.set_xticks(xs[::step], [str(d["diff_id"]) for d in diffs][::step], rotation=60, fontsize=7)
    ax.set_xlabel("diff_id")
    ax.set_ylabel("detections")
    ax.set_title("Detections per diff (sum over skycells; red edge: a faulted skycell)", fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
    return _svg(fig, salt)


def night_plots(rows: list[dict], diffs: list[dict[str, Any]]) -> dict[str, str]:
    """The three plots of the report, name -> inline SVG."""
    return {
        "fwhm": quality_plot(rows, "fwhm", ylabel="FWHM (fwhm_major)", cut_column="max_fwhm",
                             title="FWHM per exposure (dashed: the target's FWHM cut)", salt="fwhm"),
        "zpt": quality_plot(rows, "zpt_obs", ylabel="zpt_obs (mag)", title="Zero point per exposure",
                            salt="zpt"),
        "detections": detections_plot(diffs),
    }
