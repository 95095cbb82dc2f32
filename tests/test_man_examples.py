"""Every example of every man page (man/man1/*.1, EXAMPLES) runs on the demo
database, with --db substituted: exit 0, or 3 where a check finds the demo's
planted troubles; never a usage or unexpected error."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

MAN = Path(__file__).resolve().parent.parent / "man" / "man1"


def examples() -> list[tuple[str, str]]:
    out = []
    for page in sorted(MAN.glob("*.1")):
        text = page.read_text()
        if ".SH EXAMPLES" not in text:
            continue
        section = text.split(".SH EXAMPLES", 1)[1].split("\n.SH ", 1)[0]
        for line in section.splitlines():
            if line.startswith("$ "):
                cmd = re.sub(r"\\f[BIR]", "", line[2:]).replace("\\-", "-").replace("\\(aq", "'")
                out.append((page.name, cmd.strip()))
    return out


def test_every_page_has_examples():
    pages = {p for p, _ in examples()}
    assert len(pages) == len(list(MAN.glob("*.1")))


@pytest.fixture(scope="module", params=["sqlite", "mysql"])
def man_demo(request):
    """A copy of the demo night of the module's own (the examples include writers),
    and the demo's two testchunk versions."""
    from conftest import scratch_copies

    (url,) = scratch_copies(request, 1, kind=request.param, owner="man-examples")
    _src, summary = request.getfixturevalue("_demo_templates")(request, request.param)
    return url, summary.testchunk_dirs


#: file names in examples that stand for the demo's two testchunk versions
_VERSION_A = ("old/", "MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603.ref")
_VERSION_B = ("new/", "MOPS.testchunk.OSSR.R15S2.0.Q.w.20140603.new")


def _with_db(argv: list[str], url: str) -> list[str]:
    if "--db" in argv:
        i = argv.index("--db")
        return argv[:i + 1] + [url] + argv[i + 2:]
    return [argv[0], "--db", url, *argv[1:]]


@pytest.mark.parametrize("page,line", examples(), ids=[f"{p}:{c}" for p, c in examples()])
def test_man_example_runs_on_the_demo(cli, man_demo, tmp_path, monkeypatch, page, line):
    url, versions = man_demo
    monkeypatch.chdir(tmp_path)
    argv = shlex.split(line)
    assert argv[0] == "mopstool", line
    if versions:
        argv = [versions[0] if a in _VERSION_A else versions[1] if a in _VERSION_B else a
                for a in argv]
    argv = _with_db(argv, url)
    r = cli(*argv[1:])
    assert r.code in (0, 3), (line, r.code, r.err[-2000:])
    assert "error:" not in r.err, (line, r.err[-2000:])
