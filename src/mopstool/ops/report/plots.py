"""The night's plots, drawn with matplotlib as inline SVG text.

Only ``mopstool report`` imports this module, and matplotlib is imported
inside the functions (object-oriented Figure API and the SVG canvas: no
pyplot, no global backend), so no other command pays for it.

Drawing is kept cheap (docs/benchmarks.md): text is written as SVG text, not
glyph paths; each series is one artist (a marker line, one collection for
the bars, one for the cuts), never one artist per point; the ticks are placed
here (few, fixed) instead of by matplotlib's locators; titles sit at a fixed
height, so no bounding box of the tick labels is measured to place them.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

#: one colour per target, in config order (matplotlib's tab10)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
BAD = "#c62828"
FIGSIZE = (8.0, 3.4)
#: rc settings of every plot: text as text, simplified paths, titles at a fixed height
RC = {"svg.fonttype": "none", "path.simplify": True, "axes.titley": 1.0, "axes.titlepad": 5.0}


def _new(left: float, right: float, bottom: float):
    from matplotlib.backends.backend_svg import FigureCanvasSVG
    from matplotlib.figure import Figure

    fig = Figure(figsize=FIGSIZE, dpi=100)
    FigureCanvasSVG(fig)
    fig.subplots_adjust(left=left, right=right, top=0.90, bottom=bottom)
    return fig, fig.add_subplot()


def _svg(fig, salt: str) -> str:
    """The figure as SVG text; called inside the rc context whose svg.hashsalt
    is *salt* (a salt per figure keeps the element ids of several inline SVGs apart)."""
    buf = io.StringIO()
    fig.canvas.print_svg(buf, metadata={"Date": None})
    text = buf.getvalue()
    return text[text.index("<svg"):]


def _colours(rows: list[dict]) -> dict[str, str]:
    targets = list(dict.fromkeys(r["target"] for r in rows))
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(targets)}


_STEPS_MIN = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360)


def _hours(dt: datetime, t0: datetime) -> float:
    return (dt - t0).total_seconds() / 3600.0


def _time_ticks(ax, t0: datetime, lo: float, hi: float) -> None:
    """At most 7 ticks at round UTC minutes between *lo* and *hi* (hours from
    *t0*, a whole hour), labelled HH:MM."""
    span = max(hi - lo, 1e-6) * 60
    step = next((s for s in _STEPS_MIN if span / s <= 6), 720)
    first = int(lo * 60 // step + 1) * step if lo * 60 % step else int(lo * 60)
    ticks = list(range(first, int(hi * 60) + 1, step))
    ax.set_xticks([m / 60 for m in ticks], [(t0 + timedelta(minutes=m)).strftime("%H:%M") for m in ticks])
    ax.set_xlabel("dateobs (UTC)")
    ax.grid(True, alpha=0.3)


def _y_ticks(ax, lo: float, hi: float) -> None:
    from matplotlib.ticker import MaxNLocator

    ax.set_ylim(lo, hi)
    ax.set_yticks(MaxNLocator(5).tick_values(lo, hi))
    ax.set_ylim(lo, hi)


def _pad(lo: float, hi: float, frac: float = 0.08) -> tuple[float, float]:
    d = (hi - lo) * frac or max(abs(hi) * 0.05, 0.5)
    return lo - d, hi + d


def quality_plot(rows: list[dict], column: str, *, ylabel: str, title: str, cut_column: str | None = None,
                 salt: str) -> str:
    """*column* of each exposure against its dateobs, one colour per target;
    with *cut_column*, each target's cut drawn as a dashed line."""
    import matplotlib

    with matplotlib.rc_context({**RC, "svg.hashsalt": salt}):
        fig, ax = _new(0.09, 0.80, 0.16)
        pts = [r for r in rows if r["dateobs"] is not None and r[column] is not None]
        if not pts:
            ax.text(0.5, 0.5, f"no exposures with {column} yet", ha="center", va="center", transform=ax.transAxes)
            ax.set_axis_off()
            ax.set_title(title, fontsize=11)
            return _svg(fig, salt)
        stamps = [r["dateobs"] if r["dateobs"].tzinfo else r["dateobs"].replace(tzinfo=timezone.utc)
                  for r in pts]
        t0 = min(stamps).replace(minute=0, second=0, microsecond=0)
        xs = [_hours(s, t0) for s in stamps]
        ys = [float(r[column]) for r in pts]
        colours = _colours(pts)
        handles = []
        seg_y, seg_lo, seg_hi, seg_c = [], [], [], []
        for target, colour in colours.items():
            idx = [i for i, r in enumerate(pts) if r["target"] == target]
            (h,) = ax.plot([xs[i] for i in idx], [ys[i] for i in idx], linestyle="none", marker="o",
                           markersize=4.5, markeredgewidth=0, color=colour, label=target, zorder=3)
            handles.append(h)
            if cut_column:
                for cut in sorted({pts[i][cut_column] for i in idx if pts[i].get(cut_column) is not None}):
                    seg_y.append(float(cut))
                    seg_lo.append(min(xs[i] for i in idx))
                    seg_hi.append(max(xs[i] for i in idx))
                    seg_c.append(colour)
        cuts = sorted(set(seg_y))
        if seg_y:
            ax.hlines(seg_y, seg_lo, seg_hi, colors=seg_c, linestyles="dashed", linewidth=1.2)
            (h,) = ax.plot([], [], color="k", linestyle="dashed", linewidth=1.2,
                           label="FWHM cut " + ", ".join(f"{c:g}" for c in cuts))
            handles.append(h)
        bad = [i for i, r in enumerate(pts) if r["visit_status"] != "ok"]
        (h,) = ax.plot([xs[i] for i in bad], [ys[i] for i in bad], linestyle="none", marker="o",
                       markersize=8.5, markerfacecolor="none", markeredgecolor=BAD, markeredgewidth=1.2,
                       label="visit not usable", zorder=4)
        handles.append(h)
        lo, hi = min(xs), max(xs)
        dx = max((hi - lo) * 0.03, 0.05)
        ax.set_xlim(lo - dx, hi + dx)
        _time_ticks(ax, t0, lo - dx, hi + dx)
        _y_ticks(ax, *_pad(min(ys + cuts), max(ys + cuts)))
        ax.set_ylabel(ylabel)
        ax.set_title(title, fontsize=11)
        # a fixed place: loc="best" searches every point and costs more than the plot
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        return _svg(fig, salt)


def detections_plot(diffs: list[dict[str, Any]], *, salt: str = "detections") -> str:
    """Detections (sum of diffSkyfile.sources) per diff run, one bar each
    (all bars one collection)."""
    import matplotlib

    with matplotlib.rc_context({**RC, "svg.hashsalt": salt}):
        fig, ax = _new(0.09, 0.86, 0.27)
        title = "Detections per diff (sum over skycells; red edge: a faulted skycell)"
        diffs = [d for d in diffs if d["sources"] is not None]
        if not diffs:
            ax.text(0.5, 0.5, "no diff skycells with detections yet", ha="center", va="center",
                    transform=ax.transAxes)
            ax.set_axis_off()
            ax.set_title(title, fontsize=11)
            return _svg(fig, salt)
        from matplotlib.collections import PolyCollection
        from matplotlib.lines import Line2D

        colours = _colours(diffs)
        w = 0.4
        verts = [((i - w, 0), (i - w, d["sources"]), (i + w, d["sources"]), (i + w, 0))
                 for i, d in enumerate(diffs)]
        ax.add_collection(PolyCollection(
            verts, facecolors=[colours[d["target"]] for d in diffs],
            edgecolors=[BAD if d["faulted"] else "none" for d in diffs], linewidths=1.5, zorder=2),
            autolim=False)
        n = len(diffs)
        ax.set_xlim(-0.6, n - 0.4)
        _y_ticks(ax, 0, max(max(d["sources"] for d in diffs), 1) * 1.05)
        step = max(1, -(-n // 12))  # at most 12 labelled ticks: tick labels are the costly part
        ax.set_xticks(list(range(0, n, step)), [str(d["diff_id"]) for d in diffs][::step], rotation=60,
                      fontsize=7)
        ax.set_xlabel("diff_id")
        ax.set_ylabel("detections")
        ax.set_title(title, fontsize=11)
        ax.grid(True, axis="y", alpha=0.3)
        handles = [Line2D([], [], linestyle="none", marker="s", markersize=7, markeredgewidth=0, color=c,
                          label=t) for t, c in colours.items()]
        ax.legend(handles=handles, fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        return _svg(fig, salt)


_QUALITY = ("target", "dateobs", "visit_status")
#: the inputs each plot is drawn from (what its key hashes)
INPUTS = {"fwhm": _QUALITY + ("fwhm", "max_fwhm"), "zpt": _QUALITY + ("zpt_obs",),
          "detections": ("diff_id", "target", "sources", "faulted")}


def plot_keys(rows: list[dict], diffs: list[dict[str, Any]]) -> dict[str, str]:
    """name -> a digest of the plot's inputs and of this module's code: the same
    key draws the same SVG, so a page rewritten with unchanged data can keep it."""
    code = Path(__file__).read_bytes()
    out = {}
    for name, cols in INPUTS.items():
        h = hashlib.sha256(code)
        h.update(name.encode())
        items = diffs if name == "detections" else rows
        h.update(json.dumps([[r.get(c) for c in cols] for r in items], default=str).encode())
        out[name] = h.hexdigest()[:32]
    return out


def night_plots(rows: list[dict], diffs: list[dict[str, Any]], *,
                reuse: dict[str, tuple[str, str]] | None = None) -> dict[str, tuple[str, str]]:
    """The three plots of the report, name -> (key, inline SVG). A plot whose key
    is in *reuse* (name -> (key, SVG) of the page written before) is not drawn
    again; when none is drawn, matplotlib is not even imported."""
    draw: dict[str, Callable[[], str]] = {
        "fwhm": lambda: quality_plot(rows, "fwhm", ylabel="FWHM (fwhm_major)", cut_column="max_fwhm",
                                     title="FWHM per exposure (dashed: the target's FWHM cut)", salt="fwhm"),
        "zpt": lambda: quality_plot(rows, "zpt_obs", ylabel="zpt_obs (mag)", title="Zero point per exposure",
                                    salt="zpt"),
        "detections": lambda: detections_plot(diffs),
    }
    reuse = reuse or {}
    out = {}
    for name, key in plot_keys(rows, diffs).items():
        old = reuse.get(name)
        out[name] = (key, old[1] if old is not None and old[0] == key else draw[name]())
    return out
