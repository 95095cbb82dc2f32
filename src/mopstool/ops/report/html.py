"""The night report page: one self-contained HTML file.

Everything is inline (CSS, a small script, the plots as SVG): the page needs no
network and no CDN, so cron can write it into a web directory every few
minutes and a browser shows it as is. The page carries a generator meta tag;
``write_page`` overwrites only files that carry it (unless forced) and replaces
the file atomically, so a reader never sees half a page.
"""

from __future__ import annotations

import html
import os
import re
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any, Callable

from mopstool.errors import UsageError
from mopstool.ops.nightly.visits import FieldGroup
from mopstool.ops.report.night import STAGE_COLUMNS, NightTable
from mopstool.output import jsonable

GENERATOR = "mopstool report"
_MARK = f'<meta name="generator" content="{GENERATOR}">'
VISIT_MARK = {"ok": "✓", "missing": "✗", "faulted": "F", "bad_quality": "Q", "bad_fwhm": "W",
              "dropped": "D", "processing": "…"}
STAGE_TITLES = {"chip": "chip", "cam": "cam", "warp": "warp", "ww_diff": "WW diff", "ws_diff": "WS diff",
                "publish": "publish"}

CSS = """
:root{--ok:#2e7d32;--okbg:#e3f4e4;--pend:#1565c0;--pendbg:#e3eefc;--todo:#6a1b9a;--todobg:#f1e4f7;
--bad:#b26a00;--badbg:#fff1d6;--fault:#c62828;--faultbg:#fde2e2;--none:#757575;--nonebg:#f3f3f3}
*{box-sizing:border-box}body{font:14px/1.4 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;
color:#222;background:#fafafa}header{background:#263238;color:#fff;padding:12px 20px}
header h1{margin:0;font-size:20px}header .sub{opacity:.8;font-size:13px}main{padding:12px 20px}
section{background:#fff;border:1px solid #ddd;border-radius:6px;padding:10px 14px;margin:12px 0}
h2{font-size:17px;margin:4px 0 8px}h3{font-size:15px;margin:10px 0 6px}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:600;font-size:12px}
.clean{background:var(--okbg);color:var(--ok)}.attention{background:var(--faultbg);color:var(--fault)}
table{border-collapse:collapse;font-size:12.5px}th,td{border:1px solid #ddd;padding:3px 6px;text-align:left;
vertical-align:top}th{background:#eceff1;position:sticky;top:0}
.grid td.v{width:34px;text-align:center;font-weight:700;cursor:help}
.s-ok,.c-done{background:var(--okbg);color:var(--ok)}.s-processing,.c-pending{background:var(--pendbg);
color:var(--pend)}.c-todo{background:var(--todobg);color:var(--todo)}.s-bad_quality,.s-bad_fwhm,.s-dropped,
.c-bad{background:var(--badbg);color:var(--bad)}.s-faulted,.c-faulted{background:var(--faultbg);
color:var(--fault)}.s-missing{background:#cfd8dc;color:#37474f}.s-repeat,.c-none{background:var(--nonebg);
color:var(--none)}.pairs{font-size:12px;color:#444}
.bars{display:grid;grid-template-columns:70px 1fr 150px;gap:3px 8px;align-items:center;max-width:720px}
.bar{display:flex;height:14px;border-radius:3px;overflow:hidden;background:#eee}.bar span{display:block}
.b-done{background:#66bb6a}.b-pending{background:#64b5f6}.b-faulted{background:#ef5350}
.targets{display:grid;grid-template-columns:repeat(auto-fill,minmax(520px,1fr));gap:12px}
.targets section{margin:0}code{background:#f4f4f4;padding:1px 4px;border-radius:3px;font-size:12px;
word-break:break-all}button.copy{font-size:11px;padding:1px 6px;margin-left:4px;cursor:pointer}
.plots{display:grid;grid-template-columns:repeat(auto-fill,minmax(560px,1fr));gap:10px}
figure{margin:0}figure svg{max-width:100%;height:auto}#filter{padding:4px 8px;width:320px;margin:0 0 6px}
#exposures th{cursor:pointer;user-select:none}#exposures th.asc::after{content:" ▲"}
#exposures th.desc::after{content:" ▼"}.legend span{display:inline-block;padding:0 6px;margin-right:4px;
border-radius:3px}.scroll{overflow-x:auto}.note{color:#555;font-size:12.5px}.ready{color:var(--todo);font-weight:600}
"""

JS = r"""
(function(){
function txt(c){return (c.getAttribute('data-sort')||c.textContent).trim();}
function cmp(a,b){var x=parseFloat(a),y=parseFloat(b);
 if(!isNaN(x)&&!isNaN(y)&&/^-?[\d.]+$/.test(a)&&/^-?[\d.]+$/.test(b))return x-y;return a.localeCompare(b);}
var table=document.getElementById('exposures');
function sortBy(key,desc){var ths=table.tHead.rows[0].cells,idx=-1;
 for(var i=0;i<ths.length;i++){ths[i].classList.remove('asc','desc');if(ths[i].dataset.key===key)idx=i;}
 if(idx<0)return;ths[idx].classList.add(desc?'desc':'asc');var body=table.tBodies[0];
 var rows=Array.prototype.slice.call(body.rows);
 rows.sort(function(r1,r2){var d=cmp(txt(r1.cells[idx]),txt(r2.cells[idx]));return desc?-d:d;});
 rows.forEach(function(r){body.appendChild(r);});table.dataset.sorted=key+(desc?':desc':':asc');}
function filter(q){var terms=q.toLowerCase().split(/\s+/).filter(Boolean),shown=0;
 Array.prototype.forEach.call(table.tBodies[0].rows,function(r){var t=r.textContent.toLowerCase();
  var ok=terms.every(function(w){return t.indexOf(w)>=0;});r.hidden=!ok;if(ok)shown++;});
 table.dataset.shown=shown;document.getElementById('shown').textContent=shown;}
Array.prototype.forEach.call(table.tHead.rows[0].cells,function(th){th.addEventListener('click',function(){
 sortBy(th.dataset.key,th.classList.contains('asc'));});});
var box=document.getElementById('filter');box.addEventListener('input',function(){filter(box.value);});
document.querySelectorAll('button.copy').forEach(function(b){b.addEventListener('click',function(){
 var t=b.getAttribute('data-cmd');function done(){b.textContent='copied';setTimeout(function(){
 b.textContent='copy';},1500);}
 if(navigator.clipboard&&navigator.clipboard.writeText){navigator.clipboard.writeText(t).then(done,fallback);}
 else fallback();function fallback(){var a=document.createElement('textarea');a.value=t;
 document.body.appendChild(a);a.select();try{document.execCommand('copy');done();}catch(e){}a.remove();}});});
var p=new URLSearchParams(location.search);
if(p.get('filter')){box.value=p.get('filter');}filter(box.value);
if(p.get('sort'))sortBy(p.get('sort'),p.get('order')==='desc');
document.querySelectorAll('figure.plot').forEach(function(f){var s=f.querySelector('svg');
 if(!s)return;var marks=s.querySelectorAll('.tooltip-trigger');
 marks.forEach(function(m){var g=m.parentNode,d=[];g.querySelectorAll('desc').forEach(function(e){
  if(e.classList.contains('label')||e.classList.contains('value'))d.push(e.textContent);});
  var t=document.createElementNS('http://www.w3.org/2000/svg','title');t.textContent=d.join(': ');
  g.insertBefore(t,g.firstChild);});
 var r=s.getBoundingClientRect();f.dataset.renderedWidth=Math.round(r.width);
 f.dataset.marks=marks.length;});
document.querySelectorAll('table.grid').forEach(function(g){g.dataset.renderedWidth=
 Math.round(g.getBoundingClientRect().width);});
document.documentElement.dataset.ready='1';
})();
"""


def _e(v: Any) -> str:
    return html.escape("" if v is None else str(v), quote=True)


def _fmt(v: Any, digits: int = 2) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    if isinstance(v, datetime):
        return v.strftime("%H:%M:%S")
    return str(v)


def _copy(cmd: str) -> str:
    return f'<code>{_e(cmd)}</code><button class="copy" type="button" data-cmd="{_e(cmd)}">copy</button>'


def _bars(stages: dict[str, dict]) -> str:
    out = ['<div class="bars">']
    for stage, c in stages.items():
        total = c["total"] or 0
        seg = []
        for key in ("done", "pending", "faulted"):
            if total and c[key]:
                seg.append(f'<span class="b-{key}" style="width:{100 * c[key] / total:.1f}%" '
                           f'title="{c[key]} {key}"></span>')
        extra = ", ".join(f"{c[k]} {k.replace('_', ' ')}" for k in ("pending", "faulted", "bad_quality") if c[k])
        out.append(f'<div>{_e(stage)}</div><div class="bar" data-stage="{_e(stage)}">{"".join(seg)}</div>'
                   f'<div>{c["done"]}/{total}{" (" + _e(extra) + ")" if extra else ""}</div>')
    out.append("</div>")
    return "".join(out)


def _pair_class(p, diffs: dict) -> str:
    if p.status == "exists":
        d = diffs.get(p.diff_id)
        return d.status if d is not None else "done"
    return "todo" if p.status == "planned" else "pending"


def _grid(groups: list[FieldGroup], pairs_by_field: dict[tuple, list], diffs: dict) -> str:
    if not groups:
        return '<p class="note">no exposures</p>'
    width = max(len(g.visits) for g in groups)
    head = "".join(f"<th>v{n}</th>" for n in range(1, width + 1))
    rows = []
    for g in groups:
        cells = []
        for n in range(1, width + 1):
            v = g.visits.get(n)
            if v is None:
                cells.append('<td class="v"></td>')
                continue
            e = v.exposure
            tip = f"visit {n}" + (f" {e.exp_name}" if e else "") + f": {v.status} — {v.reason}"
            if v.repeats:
                tip += f" (also taken: {', '.join(r.exp_name for r in v.repeats)})"
            cells.append(f'<td class="v s-{_e(v.status)}" data-status="{_e(v.status)}" title="{_e(tip)}">'
                         f'{VISIT_MARK.get(v.status, "?")}</td>')
        pairs = pairs_by_field.get(g.key, [])
        ptxt = " ".join(f'<span class="c-{_pair_class(p, diffs)}"'
                        f' title="{_e(p.kind)} {_e(p.status)}{" diff " + str(p.diff_id) if p.diff_id else ""}">'
                        f'{p.input_visit}-{p.template_visit}{"*" if p.kind == "desperate" else ""}</span>'
                        for p in pairs if p.kind != "ws")
        ws = [p for p in pairs if p.kind == "ws"]
        if ws:
            made = sum(1 for p in ws if p.status == "exists")
            ptxt += (f' <span class="c-{"done" if made == len(ws) else "todo"}" title="warp-stack diffs made '
                     f'/ planned">WS {made}/{len(ws)}</span>')
        rows.append(f'<tr data-field="{_e(g.object)}"><th>{_e(g.object)}<div class="note">{_e(g.chunk)} '
                    f'{_e(g.filter)}</div></th>{"".join(cells)}<td class="pairs">{ptxt}</td></tr>')
    return (f'<table class="grid"><thead><tr><th>field</th>{head}<th>pairs (* desperate)</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def _legend() -> str:
    vs = " ".join(f'<span class="s-{s}">{m} {s.replace("_", " ")}</span>' for s, m in VISIT_MARK.items())
    cs = " ".join(f'<span class="c-{s}">{s}</span>' for s in ("done", "pending", "todo", "bad", "faulted", "none"))
    return f'<p class="legend note">visits: {vs}<br>stage cells: {cs}</p>'


_COLUMNS = (("exp_name", "exp_name"), ("target", "target"), ("object", "object"), ("chunk", "chunk"),
            ("filter", "filter"), ("visit", "visit"), ("dateobs", "dateobs"), ("exp_time", "exp_time"),
            ("airmass", "airmass"), ("fwhm", "FWHM"), ("zpt_obs", "zpt_obs"), ("visit_status", "visit status"))


def _exposure_table(t: NightTable, command: Callable[[str], str]) -> str:
    head = "".join(f'<th data-key="{k}">{_e(label)}</th>' for k, label in _COLUMNS)
    head += "".join(f'<th data-key="{s}">{_e(STAGE_TITLES[s])}</th>' for s in STAGE_COLUMNS)
    head += '<th data-key="pairs">pairs</th>'
    body = []
    for r in t.rows:
        cells = []
        for k, _label in _COLUMNS:
            v = r[k]
            sort = jsonable(v) if v is not None else ""
            cls = f' class="s-{_e(v)}"' if k == "visit_status" else ""
            title = f' title="{_e(r["reason"])}"' if k == "visit_status" else ""
            cells.append(f'<td data-sort="{_e(sort)}"{cls}{title}>{_e(_fmt(v))}</td>')
        for s in STAGE_COLUMNS:
            c = r["stages"][s]
            tip = c["text"] + (f"\nfix: {command(c['fix'])}" if c.get("fix") else "")
            shown = "–" if c["status"] == "none" else c["text"]
            cells.append(f'<td class="c-{c["status"]}" data-status="{c["status"]}" title="{_e(tip)}">'
                         f'{_e(shown)}</td>')
        pairs = " ".join(f"{p['input_visit']}-{p['template_visit']}{'*' if p['kind'] == 'desperate' else ''}"
                         f"{'' if p['status'] == 'exists' else ' ' + p['status']}" for p in r["pairs"])
        cells.append(f"<td>{_e(pairs)}</td>")
        body.append(f'<tr data-exp="{_e(r["exp_name"])}">{"".join(cells)}</tr>')
    return (f'<input id="filter" type="search" placeholder="filter rows: words, e.g. OSS faulted" '
            f'aria-label="filter the exposure table"> <span class="note"><span id="shown">{len(t.rows)}</span> '
            f'of {len(t.rows)} exposures; click a column to sort</span>'
            f'<div class="scroll"><table id="exposures"><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(body)}</tbody></table></div>')


def _problems(problems: list[dict], command: Callable[[str], str]) -> str:
    if not problems:
        return '<p class="note" id="no-problems">No problems: the night is clean.</p>'
    rows = []
    for p in problems:
        fix = (_copy(command(p["fix"])) if p.get("fix")
               else f'<span class="person">needs a person: {_e(p.get("person"))}</span>' if p.get("person") else "")
        rows.append(f'<tr class="problem" data-kind="{_e(p["kind"])}"><td>{_e(p["kind"])}</td>'
                    f'<td>{_e(p.get("target"))}</td><td>{_e(p["stage"])}</td><td>{_e(p["id"])}</td>'
                    f'<td>{_e(p["component"])}</td><td>{_e(p.get("fault"))}</td><td>{_e(p["meaning"])}</td>'
                    f'<td>{fix}</td></tr>')
    return ('<table id="problems"><thead><tr><th>kind</th><th>target</th><th>stage</th><th>id</th>'
            '<th>component</th><th>fault</th><th>meaning</th><th>fix</th></tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table>')


def render_page(t: NightTable, czar: dict[str, Any], plots: dict[str, tuple[str, str]], *,
                command: Callable[[str], str] = lambda c: c, title: str | None = None) -> str:
    """The page. *czar* is czar_report's result for the same night; *command*
    turns a printed fix into the command to copy (adding connection options);
    *plots* is name -> (key, SVG) from plots.night_plots."""
    night = t.night.isoformat()
    status = czar["status"]
    stages = {x["target"]: x["stages"] for x in czar["targets"]}
    pairs_by_field: dict[tuple, list] = {}
    for p in t.plan.pairs:
        pairs_by_field.setdefault((p.target, p.object or "", p.chunk, p.filter or ""), []).append(p)
    targets = []
    for name in t.data.targets:
        groups = [g for g in t.groups if g.target == name]
        if not groups and not any(c["total"] for c in stages.get(name, {}).values()):
            continue
        lost = sum(len(g.lost) for g in groups)
        targets.append(
            f'<section class="target" data-target="{_e(name)}"><h2>{_e(name)} '
            f'<span class="note">{len(groups)} fields, {sum(len(g.visits) for g in groups)} visits'
            f'{f", {lost} lost" if lost else ""}</span></h2>'
            f'{_bars(stages.get(name, {}))}<h3>quad grid</h3>{_grid(groups, pairs_by_field, t.diffs)}</section>')
    ready = "".join(
        f'<li class="ready">{_e(r["target"])} chunk {_e(r["chunk"])} is ready for its desperate diffs '
        f'({_e(", ".join(r["pairs"]))}): '
        f'{_copy(command("mopstool diffpairs --define --desperate --night " + night + " --chunk " + r["chunk"]))}'
        f'</li>' for r in t.ready)
    notes = "".join(f"<li>{_e(n)}</li>" for n in czar.get("notes", []))
    plot_html = "".join(f'<figure class="plot" id="plot-{_e(k)}" data-key="{_e(key)}">{svg}</figure>'
                        for k, (key, svg) in plots.items())
    generated = jsonable(t.generated)
    heading = title or f"Night {night}"
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
{_MARK}
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="mopstool-night" content="{_e(night)}">
<title>{_e(heading)} — mopstool</title>
<style>{CSS}</style></head>
<body>
<header><h1>{_e(heading)} <span class="badge {_e(status)}" id="status">{_e(status)}</span></h1>
<div class="sub">generated {_e(generated)} by mopstool · {len(t.rows)} exposures ·
{len(czar["problems"])} problems · {len(t.lost_visits)} lost visits</div></header>
<main>
<section id="summary"><h2>Problems</h2>{_problems(czar["problems"], command)}
{f'<ul>{ready}</ul>' if ready else ''}{f'<ul class="note">{notes}</ul>' if notes else ''}</section>
<div class="targets" id="targets">{''.join(targets)}</div>
{_legend()}
<section id="plots"><h2>Plots</h2><div class="plots">{plot_html}</div></section>
<section id="table"><h2>Exposures</h2>{_exposure_table(t, command)}</section>
</main>
<script>{JS}</script>
</body></html>
"""


def diffs_for_plot(t: NightTable) -> list[dict[str, Any]]:
    """The night's diff runs with their target and detections, in id order."""
    out = []
    for d in sorted(t.diffs.values(), key=lambda d: d.diff_id):
        exps = [t.data.exp_by_id[e] for e in d.exposures if e in t.data.exp_by_id]
        if not exps:
            continue
        out.append({"diff_id": d.diff_id, "target": exps[0].target, "kind": d.kind,
                    "sources": d.sources, "faulted": bool(d.faulted or d.faults)})
    return out


def written_by_us(path: Path) -> bool:
    """True when *path* carries the generator tag (mopstool report wrote it)."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(4096)
    except OSError:
        return False
    return _MARK.encode() in head


_FIGURE = re.compile(r'<figure class="plot" id="plot-(\w+)" data-key="([0-9a-f]+)">(<svg.*?)</figure>',
                     re.S)


def previous_plots(path: str | os.PathLike) -> dict[str, tuple[str, str]]:
    """name -> (key, SVG) of the plots in the page mopstool report wrote at
    *path* before (nothing when there is none or another program wrote it)."""
    p = Path(path)
    if not written_by_us(p):
        return {}
    try:
        text = p.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return {}
    return {m.group(1): (m.group(2), m.group(3)) for m in _FIGURE.finditer(text)}


def check_output(path: str | os.PathLike, *, force: bool = False) -> Path:
    """The output path, or UsageError when it may not be (over)written."""
    p = Path(path)
    if p.is_dir():
        raise UsageError(f"-o {p}: is a directory; name the HTML file to write")
    if p.exists() and not force and not written_by_us(p):
        raise UsageError(f"-o {p}: the file exists and was not written by mopstool report; "
                         "use --force to overwrite it")
    if not p.parent.exists():
        raise UsageError(f"-o {p}: directory {p.parent} does not exist")
    return p


def write_page(path: str | os.PathLike, page: str, *, force: bool = False) -> Path:
    """Write *page* to *path* atomically; refuse to replace a file that
    mopstool report did not write, unless *force*."""
    p = check_output(path, force=force)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(page)
        os.chmod(tmp, 0o644)
        os.replace(tmp, p)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return p
