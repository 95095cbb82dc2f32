"""mopstool report: the page is one self-contained file with the grid, the
problems (fix commands that run as printed), the plots and the exposure table;
it never overwrites a file it did not write unless --force; the plots are
pygal SVG with no script and no address to fetch, and no command loads
matplotlib."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from html.parser import HTMLParser

import pytest


from test_nightly_helpers import NIGHT

N = "2018-07-10"


class Page(HTMLParser):
    """Elements of a page as (tag, attrs) plus the text of every <td>/<th>."""

    def __init__(self, text: str):
        super().__init__()
        self.elements: list[tuple[str, dict]] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))

    def find(self, tag: str, **attrs) -> list[dict]:
        return [a for t, a in self.elements if t == tag and all(
            (a.get(k.rstrip("_")) or "").split().__contains__(v) if k == "class_" else a.get(k) == v
            for k, v in attrs.items())]


@pytest.fixture
def demo(demo_loader):
    return demo_loader().ids


def test_report_page_is_self_contained_and_complete(cli, db_url, demo, tmp_path):
    out = tmp_path / "night.html"
    r = cli("report", "--db", db_url, "--night", N, "-o", str(out))
    assert r.code == 0, r.err
    assert r.out == "" and f"wrote {out}" in r.err
    text = out.read_text(encoding="utf-8")
    assert '<meta name="generator" content="mopstool report">' in text[:2000]
    # nothing to fetch: no external script, style sheet, image, font or link
    assert not re.search(r"""(?:src|href)\s*=\s*["']?\s*(?:https?:|//|ftp:)""", text, re.I)
    assert not re.search(r"<link\b|@import|url\(\s*['\"]?(?:https?:|//)", text, re.I)
    assert "<script src" not in text
    page = Page(text)
    # per target: a section with progress bars and the quad grid
    sections = page.find("section", class_="target")
    assert [s["data-target"] for s in sections] == ["OSS", "MSS", "ESS", "EU", "FSS"]
    assert len(page.find("table", class_="grid")) == 5
    assert len(page.find("div", class_="bar")) == 25
    cells = {c["title"].split(":")[0]: c for c in page.find("td", class_="v")}
    missing = [c for c in page.find("td", class_="v") if c.get("data-status") == "missing"]
    assert len(missing) == 1 and "never observed" in missing[0]["title"]
    statuses = sorted(c["data-status"] for c in page.find("td", class_="v") if c["data-status"] != "ok")
    assert statuses == ["bad_fwhm", "bad_quality", "faulted", "faulted", "missing"]
    assert any("o8309g0051o" in k for k in cells)
    # the problems, each fix with a copy button, runnable as printed
    problems = page.find("tr", class_="problem")
    assert len(problems) == 11
    buttons = [b["data-cmd"] for b in page.find("button", class_="copy")]
    people = page.find("span", class_="person")
    assert len(buttons) == 11 - len(people) + 3  # the problems' fixes and the three ready chunks
    assert all(b.startswith(f"mopstool --db {db_url} ") for b in buttons)
    publish = sorted({b for b in buttons if " publish " in b})
    assert publish == [f"mopstool --db {db_url} publish --night {N} --yes"]
    res = cli(*shlex.split(publish[0])[1:])
    assert res.code == 0, res.err
    # plots: three inline SVG figures (FWHM with its cut, zero point, detections per diff)
    figures = [f["id"] for f in page.find("figure", class_="plot")]
    assert figures == ["plot-fwhm", "plot-zpt", "plot-detections"]
    assert text.count("<svg") == 3 and "FWHM cut 6" in text and "Detections per diff" in text
    svgs = _figures(text)
    for name, (_key, svg) in svgs.items():
        assert f'id="chart-{name}"' in svg and "<script" not in svg and "<!--" not in svg, name
        assert not re.findall(r"https?://(?!www\.w3\.org/)", svg), name
    # a point per exposure with a FWHM, labelled with its exp_name; a bar per diff of the night
    night = json.loads(cli("night", "--db", db_url, "--night", N, "--json").out)
    points = re.findall(r'<desc class="label">(o\w+)</desc>', svgs["fwhm"][1])
    assert sorted(points) == sorted(e["exp_name"] for e in night["exposures"] if e["fwhm"] is not None)
    bars = re.findall(r'<desc class="label">diff (\d+) \((\w+)\)', svgs["detections"][1])
    ww = {p["diff_id"] for e in night["exposures"] for p in e["pairs"] if p.get("diff_id")}
    assert len(bars) == len(set(bars)) > 30 and ww <= {int(b) for b, _t in bars}
    assert {t for _b, t in bars} == {e["target"] for e in night["exposures"]}
    assert svgs["detections"][1].count('class="bar"') == len(bars)  # no empty placeholder bars
    # the exposure table: 53 rows, sortable headers, a filter box
    table_rows = [t for t in page.find("tr") if "data-exp" in t]
    assert len(table_rows) == 53
    assert page.find("input", id="filter") and len(page.find("th")) > 18
    assert {h["data-key"] for h in page.find("th") if "data-key" in h} >= {"exp_name", "fwhm", "ww_diff", "publish"}
    # a rerun replaces the page it wrote (cron)
    r = cli("report", "--db", db_url, "--night", N, "-o", str(out))
    assert r.code == 0, r.err
    assert "publish --diff-id" not in out.read_text(encoding="utf-8").split('id="summary"')[1].split("</section>")[0]


def test_report_refuses_to_overwrite_a_foreign_file(cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    assert cli("db", "init", "--db", db).code == 0
    foreign = tmp_path / "index.html"
    foreign.write_text("<html>somebody else's page</html>")
    r = cli("report", "--db", db, "--night", N, "-o", str(foreign))
    assert r.code == 2 and r.out == "" and len(r.err.strip().splitlines()) == 1
    assert "was not written by mopstool report" in r.err and "--force" in r.err
    assert foreign.read_text() == "<html>somebody else's page</html>"
    r = cli("report", "--db", db, "--night", N, "-o", str(foreign), "--force")
    assert r.code == 0, r.err
    text = foreign.read_text()
    # an empty night is itself a problem (czar's no_exposures), shown on the page
    assert 'content="mopstool report"' in text and f"no exposures registered for {N}" in text
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".index")) == []  # no temp left
    # a directory, a missing directory
    for target, word in ((tmp_path, "is a directory"), (tmp_path / "nope" / "x.html", "does not exist")):
        r = cli("report", "--db", db, "--night", N, "-o", str(target))
        assert r.code == 2 and word in r.err, r.err
    # -o - writes the page to stdout
    r = cli("report", "--db", db, "--night", N, "-o", "-")
    assert r.code == 0 and r.out.startswith("<!DOCTYPE html>") and r.out.rstrip().endswith("</html>")
    r = cli("report", "--db", db, "--night", N)
    assert r.code == 2 and "--output" in r.err


def test_no_command_loads_matplotlib(tmp_path):
    # the page's plots are drawn with pygal: matplotlib's import alone costs about a czar run
    db = f"sqlite:///{tmp_path / 'g.sqlite'}"
    code = (
        "import sys, io, contextlib\n"
        "from mopstool.cli.main import main\n"
        "def run(*a):\n"
        "    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):\n"
        "        try: main(list(a))\n"
        "        except SystemExit: pass\n"
        f"run('db', 'init', '--db', {db!r})\n"
        f"for cmd in ('night', 'czar', 'lostvisits'): run(cmd, '--db', {db!r}, '--night', '{N}', '--json')\n"
        "print('before', 'matplotlib' in sys.modules)\n"
        f"run('report', '--db', {db!r}, '--night', '{N}', '-o', {str(tmp_path / 'r.html')!r})\n"
        "print('after', 'matplotlib' in sys.modules)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert out.stdout.split() == ["before", "False", "after", "False"], out.stderr
    assert (tmp_path / "r.html").read_text(encoding="utf-8").count("<svg") == 3


def _figures(text: str) -> dict[str, tuple[str, str]]:
    return {m.group(1): (m.group(2), m.group(3)) for m in re.finditer(
        r'<figure class="plot" id="plot-(\w+)" data-key="(\w+)">(.*?)</figure>', text, re.S)}


def test_rewrite_keeps_the_plots_whose_data_did_not_change(cli, db_url, demo, tmp_path):
    from sqlalchemy import create_engine, text

    out = tmp_path / "night.html"
    assert cli("report", "--db", db_url, "--night", N, "-o", str(out)).code == 0
    first = _figures(out.read_text(encoding="utf-8"))
    assert list(first) == ["fwhm", "zpt", "detections"] and all(svg.startswith("<svg") for _k, svg in first.values())
    # the same data, written again by a fresh process (as cron does): no plot drawn
    code = (
        "import sys\n"
        "from mopstool.ops.report import plots\n"
        "def refuse(*a, **k): raise AssertionError('a plot was drawn')\n"
        "plots.quality_plot = plots.detections_plot = refuse\n"
        "from mopstool.cli.main import main\n"
        f"try: main(['report', '--db', {db_url!r}, '--night', '{N}', '-o', {str(out)!r}])\n"
        "except SystemExit as e: sys.exit(e.code)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert _figures(out.read_text(encoding="utf-8")) == first
    # the FWHMs change: the FWHM plot is drawn again, the other two are kept
    eng = create_engine(db_url)
    with eng.begin() as c:
        c.execute(text("UPDATE camProcessedExp SET fwhm_major = fwhm_major + 0.25"))
    eng.dispose()
    assert cli("report", "--db", db_url, "--night", N, "-o", str(out)).code == 0
    third = _figures(out.read_text(encoding="utf-8"))
    assert third["fwhm"][0] != first["fwhm"][0] and third["fwhm"][1] != first["fwhm"][1]
    assert third["zpt"] == first["zpt"] and third["detections"] == first["detections"]
    # a page another program wrote is never a source of plots
    foreign = tmp_path / "foreign.html"
    page = out.read_text(encoding="utf-8").replace('<meta name="generator" content="mopstool report">', "")
    foreign.write_text(page.replace(third["zpt"][1], "<svg>not a plot</svg>"), encoding="utf-8")
    assert cli("report", "--db", db_url, "--night", N, "-o", str(foreign), "--force").code == 0
    assert _figures(foreign.read_text(encoding="utf-8"))["zpt"] == first["zpt"]
