"""The report page in a real browser: headless Chromium (Debian's chromium
package) loads the demo night's page from disk, runs its script, and the
dumped DOM shows the quad grids, the problems and the plots laid out with a
size; the filter and sort given in the URL are applied by the page's script.
A screenshot is saved under the test's tmp dir. Skipped only where Chromium is
not installed, and never when CI=true (.ci/run installs it)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from mopstool.config import load_config
from mopstool.ops.demo.night import run_demo

from test_nightly_helpers import NIGHT

IN_CI = os.environ.get("CI", "").lower() == "true"


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        path = shutil.which(name)
        if path:
            return path
    if IN_CI:
        pytest.fail("chromium is not installed (CI=true: .ci/run installs it with apt-get)")
    pytest.skip("chromium is not installed (apt-get install chromium)")


def _run(browser: str, profile, *args: str) -> str:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert res.returncode == 0, res.stderr[-2000:]
    return res.stdout


def _attr(tag: str, name: str) -> str | None:
    m = re.search(rf'\b{name}="([^"]*)"', tag)
    return m.group(1) if m else None


def _tags(dom: str, tag: str, cls: str | None = None) -> list[str]:
    tags = re.findall(rf"<{tag}\b[^>]*>", dom)
    return [t for t in tags if cls is None or cls in (_attr(t, "class") or "").split()]


def test_chromium_renders_grid_problems_and_plots(cli, tmp_path):
    browser = _chromium()
    db = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    run_demo(load_config(), db_url=db, reset=False, night=NIGHT, files_dir=str(tmp_path / "f"))
    page = tmp_path / "night.html"
    r = cli("report", "--db", db, "--night", "2018-07-10", "-o", str(page))
    assert r.code == 0, r.err
    url = page.as_uri()

    dom = _run(browser, tmp_path / "profile", "--dump-dom", url + "?filter=faulted&sort=fwhm&order=desc")
    assert re.search(r'<html[^>]*data-ready="1"', dom), "the page's script did not run"
    grids = _tags(dom, "table", "grid")
    assert len(grids) == 5 and all(int(_attr(g, "data-rendered-width") or 0) > 100 for g in grids)
    assert len(_tags(dom, "tr", "problem")) == 11
    # a copy button per fix command (problems that a command clears, the ready chunks), all rendered
    copies = page.read_text(encoding="utf-8").count('class="copy"')
    assert copies >= 11 and dom.count('class="copy"') == copies
    plots = _tags(dom, "figure", "plot")
    assert [_attr(p, "id") for p in plots] == ["plot-fwhm", "plot-zpt", "plot-detections"]
    for p in plots:
        assert int(_attr(p, "data-rendered-width")) > 200, p
        assert int(_attr(p, "data-marks")) > 20, p
    # the page's script gave every data mark its hover text (pygal's value and label)
    assert re.search(r"<title>o8309g0051o: 08:17: 8\.1</title>", dom), "no hover text on the FWHM points"
    assert re.search(r"<title>diff \d+ \(OSS\): 3400</title>", dom), "no hover text on the bars"
    # the URL's filter and sort were applied by the script
    table = re.search(r'<table id="exposures"[^>]*>', dom).group(0)
    assert _attr(table, "data-shown") == "2" and _attr(table, "data-sorted") == "fwhm:desc"
    rows = re.findall(r'<tr data-exp="([^"]+)"([^>]*)>', dom)
    assert len(rows) == 53
    assert sorted(name for name, rest in rows if "hidden" not in rest) == ["o8309g0037o", "o8309g0070o"]
    assert rows[0][0] == "o8309g0051o"  # FWHM 8.1 first when sorted descending

    shot = tmp_path / "night.png"
    _run(browser, tmp_path / "profile", f"--screenshot={shot}", "--window-size=1400,2400", url)
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 50_000
