"""The night's plots, written as inline SVG text.

The page's three plots are simple (points against time with a few dashed
cuts, one bar per diff), so they are written here as SVG elements directly
instead of drawn with a plotting library: importing matplotlib alone costs
about as much CPU as the whole ``czar`` report (docs/benchmarks.md), and the
page is rewritten every few minutes by cron. Each plot is one ``<svg>`` with
a viewBox, so the browser scales it to the page; every data mark (a point, a
bar) carries ``class="mark"`` and a ``<title>`` shown on hover.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timedelta, timezone
from html import escape
from pathlib import Path
from typing import Any, Callable

#: one colour per target, in config order (the tab10 palette)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
BAD = "#c62828"
#: the drawing size in SVG user units (the browser scales it to the figure's width)
WIDTH, HEIGHT = 800, 340
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def _e(v: Any) -> str:
    return escape(str(v), quote=True)


def _n(v: float) -> str:
    """A coordinate, short: two decimals, no trailing zeros."""
    s = f"{v:.2f}".rstrip("0").rstrip(".")
    return "0" if s == "-0" else s


class _Axes:
    """One plot area inside the drawing: data limits, their mapping to SVG
    units, and the SVG elements written so far."""

    def __init__(self, left: float, right: float, bottom: float, top: float = 0.90):
        self.x0, self.x1 = left * WIDTH, right * WIDTH
        self.y0, self.y1 = (1 - bottom) * HEIGHT, (1 - top) * HEIGHT  # y0: bottom edge (larger)
        self.xlim = (0.0, 1.0)
        self.ylim = (0.0, 1.0)
        self.back: list[str] = []   # grid, drawn under the data
        self.body: list[str] = []   # data
        self.front: list[str] = []  # frame, ticks, labels, legend

    def px(self, x: float) -> float:
        lo, hi = self.xlim
        return self.x0 + (x - lo) / ((hi - lo) or 1.0) * (self.x1 - self.x0)

    def py(self, y: float) -> float:
        lo, hi = self.ylim
        return self.y0 - (y - lo) / ((hi - lo) or 1.0) * (self.y0 - self.y1)

    def text(self, x: float, y: float, s: str, *, size: float = 12, anchor: str = "middle",
             rotate: float | None = None, weight: str | None = None) -> None:
        extra = f' transform="rotate({_n(rotate)} {_n(x)} {_n(y)})"' if rotate else ""
        bold = f' font-weight="{weight}"' if weight else ""
        self.front.append(f'<text x="{_n(x)}" y="{_n(y)}" font-size="{_n(size)}" text-anchor="{anchor}"'
                          f'{bold}{extra}>{_e(s)}</text>')

    def title(self, s: str) -> None:
        self.text((self.x0 + self.x1) / 2, self.y1 - 7, s, size=14)

    def xticks(self, ticks: list[float], labels: list[str], *, rotate: float | None = None,
               size: float = 12, grid: bool = True) -> None:
        for t, lab in zip(ticks, labels):
            x = self.px(t)
            if grid:
                self.back.append(f'<line x1="{_n(x)}" y1="{_n(self.y1)}" x2="{_n(x)}" y2="{_n(self.y0)}" '
                                 'stroke="#b0b0b0" stroke-opacity="0.5" stroke-width="0.8"/>')
            self.front.append(f'<line x1="{_n(x)}" y1="{_n(self.y0)}" x2="{_n(x)}" y2="{_n(self.y0 + 4)}" '
                              'stroke="#000" stroke-width="0.8"/>')
            if rotate:
                self.text(x, self.y0 + 10, lab, size=size, anchor="end", rotate=rotate)
            else:
                self.text(x, self.y0 + 17, lab, size=size)

    def yticks(self, ticks: list[float], labels: list[str], *, grid: bool = True) -> None:
        for t, lab in zip(ticks, labels):
            y = self.py(t)
            if grid:
                self.back.append(f'<line x1="{_n(self.x0)}" y1="{_n(y)}" x2="{_n(self.x1)}" y2="{_n(y)}" '
                                 'stroke="#b0b0b0" stroke-opacity="0.5" stroke-width="0.8"/>')
            self.front.append(f'<line x1="{_n(self.x0 - 4)}" y1="{_n(y)}" x2="{_n(self.x0)}" y2="{_n(y)}" '
                              'stroke="#000" stroke-width="0.8"/>')
            self.text(self.x0 - 7, y + 4, lab, size=12, anchor="end")

    def labels(self, xlabel: str, ylabel: str, *, xlabel_at: float = 36) -> None:
        self.text((self.x0 + self.x1) / 2, self.y0 + xlabel_at, xlabel)
        x, y = self.x0 - 52, (self.y0 + self.y1) / 2
        self.text(x, y, ylabel, rotate=-90)

    def legend(self, entries: list[str]) -> None:
        """*entries*: one SVG fragment per line (a 20-unit-wide key, then its
        label at x=26, baseline at y=0), boxed right of the plot area."""
        x, y = self.x1 + 10, self.y1 + 4
        box = [f'<g transform="translate({_n(x)} {_n(y)})" font-size="11">',
               f'<rect x="0" y="0" width="{_n(WIDTH - x - 4)}" height="{18 * len(entries) + 6}" '
               'fill="#fff" fill-opacity="0.8" stroke="#ccc"/>']
        for i, entry in enumerate(entries):
            box.append(f'<g transform="translate(6 {15 + 18 * i})">{entry}</g>')
        box.append("</g>")
        self.front.append("".join(box))

    def svg(self, *, frame: bool = True) -> str:
        box = (f'<rect x="{_n(self.x0)}" y="{_n(self.y1)}" width="{_n(self.x1 - self.x0)}" '
                 f'height="{_n(self.y0 - self.y1)}" fill="none" stroke="#000" stroke-width="0.8"/>') if frame else ""
        return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" '
                f'viewBox="0 0 {WIDTH} {HEIGHT}" font-family="{FONT}">'
                f'<rect width="{WIDTH}" height="{HEIGHT}" fill="#fff"/>'
                f'<g class="grid">{"".join(self.back)}</g><g class="data">{"".join(self.body)}</g>'
                f'{box}{"".join(self.front)}</svg>')


def _empty(message: str, title: str) -> str:
    ax = _Axes(0.09, 0.80, 0.16)
    ax.title(title)
    ax.text(WIDTH / 2, HEIGHT / 2, message)
    return ax.svg(frame=False)


def _colours(rows: list[dict]) -> dict[str, str]:
    targets = list(dict.fromkeys(r["target"] for r in rows))
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(targets)}


_STEPS_MIN = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360)


def _hours(dt: datetime, t0: datetime) -> float:
    return (dt - t0).total_seconds() / 3600.0


def _time_ticks(ax: _Axes, t0: datetime, lo: float, hi: float) -> None:
    """At most 7 ticks at round UTC minutes between *lo* and *hi* (hours from
    *t0*, a whole hour), labelled HH:MM."""
    span = max(hi - lo, 1e-6) * 60
    step = next((s for s in _STEPS_MIN if span / s <= 6), 720)
    first = math.ceil(lo * 60 / step) * step
    ticks = list(range(first, math.floor(hi * 60) + 1, step))
    ax.xticks([m / 60 for m in ticks], [(t0 + timedelta(minutes=m)).strftime("%H:%M") for m in ticks])


def nice_ticks(lo: float, hi: float, most: int = 5) -> list[float]:
    """At most *most* + 1 round values (steps of 1, 2, 2.5 or 5 × 10^k) within [lo, hi]."""
    if not hi > lo:
        return [lo]
    raw = (hi - lo) / most
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw * (1 - 1e-9))
    first = math.ceil(lo / step - 1e-9)
    out = []
    k = first
    while k * step <= hi * (1 + 1e-12) + 1e-12:
        out.append(round(k * step, 10))
        k += 1
    return out


def _tick_label(v: float) -> str:
    s = f"{v:.6g}"
    return "0" if s in ("-0", "0") else s


def _y_ticks(ax: _Axes, lo: float, hi: float) -> None:
    ax.ylim = (lo, hi)
    ticks = nice_ticks(lo, hi)
    ax.yticks(ticks, [_tick_label(t) for t in ticks])


def _pad(lo: float, hi: float, frac: float = 0.08) -> tuple[float, float]:
    d = (hi - lo) * frac or max(abs(hi) * 0.05, 0.5)
    return lo - d, hi + d


def _dot(colour: str, r: float = 3.2) -> str:
    return f'<circle cx="10" cy="-4" r="{r}" fill="{colour}"/>'


def _label(s: str) -> str:
    return f'<text x="26" y="0">{_e(s)}</text>'


def quality_plot(rows: list[dict], column: str, *, ylabel: str, title: str,
                 cut_column: str | None = None) -> str:
    """*column* of each exposure against its dateobs, one colour per target;
    with *cut_column*, each target's cut drawn as a dashed line."""
    pts = [r for r in rows if r["dateobs"] is not None and r[column] is not None]
    if not pts:
        return _empty(f"no exposures with {column} yet", title)
    ax = _Axes(0.09, 0.80, 0.16)
    stamps = [r["dateobs"] if r["dateobs"].tzinfo else r["dateobs"].replace(tzinfo=timezone.utc) for r in pts]
    t0 = min(stamps).replace(minute=0, second=0, microsecond=0)
    xs = [_hours(s, t0) for s in stamps]
    ys = [float(r[column]) for r in pts]
    colours = _colours(pts)
    segs: list[tuple[float, float, float, str]] = []
    if cut_column:
        for target, colour in colours.items():
            idx = [i for i, r in enumerate(pts) if r["target"] == target]
            for cut in sorted({pts[i][cut_column] for i in idx if pts[i].get(cut_column) is not None}):
                segs.append((float(cut), min(xs[i] for i in idx), max(xs[i] for i in idx), colour))
    cuts = sorted({s[0] for s in segs})
    lo, hi = min(xs), max(xs)
    dx = max((hi - lo) * 0.03, 0.05)
    ax.xlim = (lo - dx, hi + dx)
    _time_ticks(ax, t0, lo - dx, hi + dx)
    _y_ticks(ax, *_pad(min(ys + cuts), max(ys + cuts)))
    for y, a, b, colour in segs:
        ax.body.append(f'<line x1="{_n(ax.px(a))}" y1="{_n(ax.py(y))}" x2="{_n(ax.px(b))}" y2="{_n(ax.py(y))}" '
                       f'stroke="{colour}" stroke-width="1.6" stroke-dasharray="5.5 2.4"/>')
    for i, r in enumerate(pts):
        tip = f"{r.get('exp_name', '')} {stamps[i]:%H:%M} {column} {ys[i]:g}".strip()
        ax.body.append(f'<circle class="mark" cx="{_n(ax.px(xs[i]))}" cy="{_n(ax.py(ys[i]))}" r="3.2" '
                       f'fill="{colours[r["target"]]}"><title>{_e(tip)}</title></circle>')
    for i, r in enumerate(pts):
        if r["visit_status"] != "ok":
            ax.body.append(f'<circle cx="{_n(ax.px(xs[i]))}" cy="{_n(ax.py(ys[i]))}" r="6" fill="none" '
                           f'stroke="{BAD}" stroke-width="1.6"/>')
    entries = [_dot(c) + _label(t) for t, c in colours.items()]
    if segs:
        entries.append('<line x1="0" y1="-4" x2="20" y2="-4" stroke="#000" stroke-width="1.6" '
                       'stroke-dasharray="5.5 2.4"/>' + _label("FWHM cut " + ", ".join(f"{c:g}" for c in cuts)))
    entries.append(f'<circle cx="10" cy="-4" r="6" fill="none" stroke="{BAD}" stroke-width="1.6"/>'
                   + _label("visit not usable"))
    ax.labels("dateobs (UTC)", ylabel)
    ax.title(title)
    ax.legend(entries)
    return ax.svg()


def detections_plot(diffs: list[dict[str, Any]]) -> str:
    """Detections (sum of diffSkyfile.sources) per diff run, one bar each."""
    title = "Detections per diff (sum over skycells; red edge: a faulted skycell)"
    diffs = [d for d in diffs if d["sources"] is not None]
    if not diffs:
        return _empty("no diff skycells with detections yet", title)
    ax = _Axes(0.09, 0.86, 0.27)
    colours = _colours(diffs)
    n = len(diffs)
    ax.xlim = (-0.6, n - 0.4)
    _y_ticks(ax, 0, max(max(d["sources"] for d in diffs), 1) * 1.05)
    w = 0.4
    base = ax.py(0)
    for i, d in enumerate(diffs):
        x, top = ax.px(i - w), ax.py(d["sources"])
        edge = f' stroke="{BAD}" stroke-width="2"' if d["faulted"] else ""
        ax.body.append(f'<rect class="mark" x="{_n(x)}" y="{_n(top)}" width="{_n(ax.px(i + w) - x)}" '
                       f'height="{_n(base - top)}" fill="{colours[d["target"]]}"{edge}>'
                       f'<title>diff {d["diff_id"]} ({_e(d["target"])}): {d["sources"]} detections'
                       f'{", faulted" if d["faulted"] else ""}</title></rect>')
    step = max(1, -(-n // 12))  # at most 12 labelled ticks
    ax.xticks(list(range(0, n, step)), [str(d["diff_id"]) for d in diffs][::step], rotate=-60, size=9,
              grid=False)
    ax.labels("diff_id", "detections", xlabel_at=74)
    ax.title(title)
    ax.legend([f'<rect x="5" y="-9" width="10" height="10" fill="{c}"/>' + _label(t)
               for t, c in colours.items()])
    return ax.svg()


_QUALITY = ("target", "dateobs", "visit_status", "exp_name")
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
    is in *reuse* (name -> (key, SVG) of the page written before) is not drawn again."""
    draw: dict[str, Callable[[], str]] = {
        "fwhm": lambda: quality_plot(rows, "fwhm", ylabel="FWHM (fwhm_major)", cut_column="max_fwhm",
                                     title="FWHM per exposure (dashed: the target's FWHM cut)"),
        "zpt": lambda: quality_plot(rows, "zpt_obs", ylabel="zpt_obs (mag)", title="Zero point per exposure"),
        "detections": lambda: detections_plot(diffs),
    }
    reuse = reuse or {}
    out = {}
    for name, key in plot_keys(rows, diffs).items():
        old = reuse.get(name)
        out[name] = (key, old[1] if old is not None and old[0] == key else draw[name]())
    return out
