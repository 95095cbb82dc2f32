"""The night's plots, drawn with pygal as inline SVG.

pygal (Kozea, pure Python) writes SVG directly: the page stays one file of
text that the browser scales, and drawing the three plots costs about 0.15 s
of CPU with its import. matplotlib, which ``testchunk compare --plots`` uses
for PNG files, costs about 0.75 s of CPU to import alone, about as much as the
whole ``czar`` report, and the page is rewritten every few minutes by cron
(docs/benchmarks.md). The charts are rendered without pygal's tooltip script
(which it would load from a CDN); the page's own script turns the value and
label pygal writes into each data mark into the hover text.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

#: one colour per target, in config order (the tab10 palette)
PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
           "#bcbd22", "#17becf")
BAD = "#c62828"
#: the drawing size in SVG user units (the browser scales it to the figure's width)
WIDTH, HEIGHT = 800, 370
FONT = "DejaVu Sans, Helvetica, Arial, sans-serif"


def _chart(kind: str, colours: list[str], **options: Any):
    """A pygal chart of *kind* ('DateTimeLine', 'StackedBar', ...) in the page's
    look: no script, no XML declaration, series in *colours*."""
    import pygal
    from pygal.style import Style

    style = Style(colors=tuple(colours) or PALETTE, background="#fff", plot_background="#fff",
                  font_family=FONT, title_font_size=14, label_font_size=11, legend_font_size=11,
                  major_label_font_size=11, no_data_font_size=14, guide_stroke_color="#bbb",
                  major_guide_stroke_color="#bbb", guide_stroke_dasharray="2,3",
                  major_guide_stroke_dasharray="2,3")
    return getattr(pygal, kind)(js=[], style=style, width=WIDTH, height=HEIGHT, explicit_size=True,
                                disable_xml_declaration=True, truncate_legend=-1, print_values=False,
                                legend_at_bottom=True,
                                **options)


def _bare(root):
    """An XML filter: drop pygal's comments (one carries the day it was drawn)
    and the configuration script it writes for its tooltip script, which the
    page does not load; the same data then draws the same SVG."""
    for parent in [root, *root.iter()]:
        for child in list(parent):
            if _local(child.tag) in ("", "script"):
                parent.remove(child)
    return root


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def _no_placeholders(root):
    """An XML filter for the stacked bars: drop the empty bars pygal draws for
    the other targets' slots (every real bar carries a label)."""
    for parent in list(root.iter()):
        for child in list(parent):
            if _local(child.tag) == "g" and child.get("class") == "bar" and not any(
                    _local(d.tag) == "desc" and d.get("class") == "label" for d in child):
                parent.remove(child)
    return root


def _render(chart, name: str, *filters: Callable) -> str:
    """The chart as SVG text, its element id ``chart-<name>`` (unique in the page)."""
    chart.uuid = name
    for f in (_bare, *filters):
        chart.add_xml_filter(f)
    return chart.render(is_unicode=True)


def _empty(message: str, title: str, name: str) -> str:
    chart = _chart("XY", [], title=title, no_data_text=message)
    return _render(chart, name)


def _colours(rows: list[dict]) -> dict[str, str]:
    targets = list(dict.fromkeys(r["target"] for r in rows))
    return {t: PALETTE[i % len(PALETTE)] for i, t in enumerate(targets)}


def _utc(dt: datetime) -> datetime:
    """*dt* as a naive UTC datetime (pygal's time axis takes naive values)."""
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


_STEPS_MIN = (5, 10, 15, 20, 30, 60, 120, 180, 240, 360)


def time_ticks(lo: datetime, hi: datetime, most: int = 9) -> list[datetime]:
    """At most *most* ticks at round UTC minutes (a step of 5 minutes to 6 hours) within [lo, hi]."""
    span = max((hi - lo).total_seconds() / 60, 1.0)
    step = next((m for m in _STEPS_MIN if span / m <= most - 1), 720)
    first = lo.replace(minute=0, second=0, microsecond=0)
    out = []
    t = first
    while t <= hi:
        if t >= lo:
            out.append(t)
        t += timedelta(minutes=step)
    return out


def quality_plot(rows: list[dict], column: str, *, ylabel: str, title: str,
                 cut_column: str | None = None, name: str | None = None) -> str:
    """*column* of each exposure against its dateobs, one colour per target;
    with *cut_column*, each target's cut drawn as a dashed line; exposures of
    a visit that is not usable ringed in red."""
    pts = [r for r in rows if r["dateobs"] is not None and r[column] is not None]
    if not pts:
        return _empty(f"no exposures with {column} yet", title, name or column)
    colours = _colours(pts)
    series: list[tuple[str, str, list, dict]] = []
    for target, colour in colours.items():
        mine = [r for r in pts if r["target"] == target]
        values = [{"value": (_utc(r["dateobs"]), float(r[column])),
                   "label": r.get("exp_name") or target} for r in mine]
        series.append((target, colour, values, {}))
    if cut_column:
        # one dashed series of every target's cut, each across the target's exposures
        segs: list = []
        cuts: set[float] = set()
        for target in colours:
            mine = [r for r in pts if r["target"] == target]
            t0, t1 = min(_utc(r["dateobs"]) for r in mine), max(_utc(r["dateobs"]) for r in mine)
            for cut in sorted({float(r[cut_column]) for r in mine if r.get(cut_column) is not None}):
                segs += [*([None] if segs else []),
                         {"value": (t0, cut), "label": f"{target} FWHM cut"},
                         {"value": (t1, cut), "label": f"{target} FWHM cut"}]
                cuts.add(cut)
        if segs:
            series.append(("FWHM cut " + ", ".join(f"{c:g}" for c in sorted(cuts)), "#000", segs,
                           {"stroke": True, "show_dots": False,
                            "stroke_style": {"width": 1.6, "dasharray": "6,3"}}))
    bad = [r for r in pts if r["visit_status"] != "ok"]
    if bad:
        series.append(("visit not usable", BAD,
                       [{"value": (_utc(r["dateobs"]), float(r[column])),
                         "label": f"{r.get('exp_name', '')}: visit {r['visit_status']}".strip(),
                         "style": f"fill:none;stroke:{BAD};stroke-width:2"} for r in bad],
                       {"dots_size": 6}))
    times = [_utc(r["dateobs"]) for r in pts]
    chart = _chart("DateTimeLine", [s[1] for s in series], title=title, legend_at_bottom_columns=len(series),
                   x_labels=time_ticks(min(times), max(times)), x_title="dateobs (UTC)",
                   y_title=ylabel, stroke=False, dots_size=3.2, show_x_guides=True, allow_interruptions=True,
                   x_value_formatter=lambda d: d.strftime("%H:%M"), x_label_rotation=0,
                   value_formatter=lambda v: f"{v:g}")
    for label, _colour, values, opts in series:
        chart.add(label, values, **opts)
    return _render(chart, name or column)


def detections_plot(diffs: list[dict[str, Any]]) -> str:
    """Detections (sum of diffSkyfile.sources) per diff run, one bar each,
    coloured by target; a diff with a faulted skycell has a red edge."""
    title = "Detections per diff (sum over skycells; red edge: a faulted skycell)"
    diffs = [d for d in diffs if d["sources"] is not None]
    if not diffs:
        return _empty("no diff skycells with detections yet", title, "detections")
    colours = _colours(diffs)
    n = len(diffs)
    step = max(1, -(-n // 12))  # at most 12 labelled ticks
    # one series per target (the legend), stacked so that each diff's one value fills its slot
    chart = _chart("StackedBar", list(colours.values()), title=title, legend_at_bottom_columns=len(colours), x_title="diff_id",
                   y_title="detections", x_label_rotation=-60, show_minor_x_labels=False,
                   x_labels_major_every=step, show_x_guides=False, value_formatter=lambda v: f"{v:g}")
    chart.x_labels = [str(d["diff_id"]) for d in diffs]
    for target in colours:
        chart.add(target, [{"value": d["sources"],
                            "label": f"diff {d['diff_id']} ({target}){', faulted' if d['faulted'] else ''}",
                            **({"style": f"stroke:{BAD};stroke-width:2"} if d["faulted"] else {})}
                           if d["target"] == target else None for d in diffs])
    return _render(chart, "detections", _no_placeholders)


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
                                     name="fwhm", title="FWHM per exposure (dashed: the target's FWHM cut)"),
        "zpt": lambda: quality_plot(rows, "zpt_obs", ylabel="zpt_obs (mag)", title="Zero point per exposure",
                                    name="zpt"),
        "detections": lambda: detections_plot(diffs),
    }
    reuse = reuse or {}
    out = {}
    for name, key in plot_keys(rows, diffs).items():
        old = reuse.get(name)
        out[name] = (key, old[1] if old is not None and old[0] == key else draw[name]())
    return out
