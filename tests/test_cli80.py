"""Listings at 80 columns in a pseudo-terminal: no id, exposure name or
mopstool command is split across lines; --columns and 'showing N of M'."""

from __future__ import annotations

import fcntl
import os
import pty
import re
import select
import struct
import subprocess
import sys
import termios

import pytest

NIGHT = "2018-07-10"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def in_pty(args: list[str], cols: int = 80) -> tuple[int, str]:
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 50, cols, 0, 0))
    env = dict(os.environ, COLUMNS=str(cols), LINES="50", TERM="xterm")
    proc = subprocess.Popen([sys.executable, "-m", "mopstool", *args], stdin=slave, stdout=slave,
                            stderr=slave, env=env, close_fds=True)
    os.close(slave)
    out = b""
    while True:
        ready, _, _ = select.select([master], [], [], 120)
        if not ready:
            break
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    proc.wait()
    os.close(master)
    return proc.returncode, ANSI.sub("", out.decode("utf-8", "replace")).replace("\r", "")


def _tokens(text: str, pattern: str) -> set[str]:
    return set(re.findall(pattern, text))


@pytest.fixture(scope="module")
def demo_file(tmp_path_factory):
    from mopstool.config import load_config, parse_night
    from mopstool.ops.demo.night import run_demo

    root = tmp_path_factory.mktemp("cli80")
    url = f"sqlite:///{root / 'demo.sqlite'}"
    run_demo(load_config(), db_url=url, reset=False, night=parse_night(NIGHT),
             files_dir=str(root / "files"))
    return url


def _expected_ids(url: str) -> tuple[set[str], set[str]]:
    from sqlalchemy import create_engine, text

    eng = create_engine(url)
    with eng.connect() as conn:
        ids = {str(v) for (v,) in conn.execute(text(
            "SELECT chip_id FROM chipRun UNION SELECT warp_id FROM warpRun "
            "UNION SELECT diff_id FROM diffRun UNION SELECT exp_id FROM rawExp "
            "UNION SELECT cam_id FROM camRun UNION SELECT fake_id FROM fakeRun"))}
        names = {v for (v,) in conn.execute(text("SELECT exp_name FROM rawExp"))}
    eng.dispose()
    return ids, names


@pytest.mark.parametrize("args", [
    ["czar", "--night", NIGHT],
    ["runs", "chip", "--night", NIGHT],
    ["runs", "warp"],
    ["diffpairs", "--night", NIGHT],
    ["night", "--night", NIGHT],
    ["faults", "--night", NIGHT],
])
def test_nothing_split_at_80_columns(demo_file, args):
    ids, names = _expected_ids(demo_file)
    code, out = in_pty(["--db", demo_file, *args])
    assert code in (0, 3), out
    lines = out.splitlines()
    seen_ids = _tokens(out, r"\b1[2-6]\d{5}\b")
    seen_names = _tokens(out, r"\bo\d{4}g\d{4}o\b")
    assert seen_ids or seen_names, out
    assert seen_ids <= ids, seen_ids - ids      # a split id would leave unknown pieces
    assert seen_names <= names
    # a broken id/name leaves a fragment at a line end or start: digits cut short
    for line in lines:
        for frag in re.findall(r"\b1[2-6]\d{1,4}$|^\s*\d{1,5}\b(?=\s*$)", line):
            assert False, f"id fragment {frag!r} in {line!r}"
        for frag in re.findall(r"\bo\d{0,4}g?\d{0,3}$", line.rstrip()):
            if frag not in names and len(frag) > 1:
                assert False, f"name fragment {frag!r} in {line!r}"
    # every printed command is whole on one line and parses as a mopstool command
    for line in lines:
        if "mopstool " in line and "--" in line:
            cmd = line[line.index("mopstool "):]
            assert not cmd.rstrip().endswith(("-", "--")), line
    # table lines stay within the terminal, except lines that hold a whole command
    for line in lines:
        if len(line) > 80:
            assert "mopstool " in line or "--columns" in line, line


def test_runs_chip_keeps_chip_ids_whole_and_says_what_limit_cut(demo_file):
    code, out = in_pty(["--db", demo_file, "runs", "chip", "--limit", "3"])
    assert code == 0, out
    assert "showing 3 of 110 (use --limit)" in out
    assert re.search(r"^1600109\s", out, re.M), out


def test_columns_option_selects_and_refuses(cli, demo_file):
    r = cli("--db", demo_file, "runs", "chip", "--limit", "2", "--columns", "exp_name,chip_id",
            "--format", "csv")
    assert r.code == 0, r.err
    assert r.out.splitlines()[0] == "exp_name,chip_id"
    assert "showing 2 of 110" in r.err
    r = cli("--db", demo_file, "runs", "chip", "--columns", "chip_id,nosuch")
    assert r.code == 2 and "unknown field 'nosuch'" in r.err and "exp_name" in r.err
    # a request that no listing used does not reach the next command
    r = cli("--db", "sqlite:////nonexistent/dir/x.sqlite", "runs", "chip", "--columns", "exp_name")
    assert r.code != 0
    r = cli("--db", demo_file, "faults", "--format", "csv")
    assert r.out.splitlines()[0].startswith("stage,"), r.out
    import json

    r = cli("--db", demo_file, "runs", "chip", "--limit", "1", "--columns", "chip_id,state", "--json")
    assert r.code == 0 and list(json.loads(r.out)[0]) == ["chip_id", "state"]


def test_fit_columns_cuts_free_text_moves_commands_and_hides_last():
    from mopstool.output import fit_columns

    cols = ["stage", "id", "meaning", "fix"]
    cells = [["chip", "1600095", "SYS: I/O, Nebulous or filesystem error (usually transient)",
              "mopstool --db sqlite:////some/long/path/demo.sqlite revert chip --id 1600095 --yes"]]
    inline, under, hidden = fit_columns(cols, cells, 80)
    assert [c for c, _ in inline] == ["stage", "id", "meaning"] and under == ["fix"] and not hidden
    assert dict(inline)["id"] == 7
    inline, under, hidden = fit_columns(["id", "a", "b"], [["1600095", "x" * 40, "y" * 40]], 60)
    assert [c for c, _ in inline] == ["id", "a"] and hidden == ["b"]
    inline, _, hidden = fit_columns(["id", "a", "b"], [["1600095", "x" * 40, "y" * 40]], 60,
                                    keep_all=True)
    assert not hidden


def test_demo_progress_on_a_terminal_only(cli, tmp_path):
    """A bar with ETA on a terminal's stderr; nothing without a terminal or with -q;
    never on stdout."""
    url = f"sqlite:///{tmp_path / 'p.sqlite'}"
    code, out = in_pty(["--db", url, "demo", "--files", str(tmp_path / "f")])
    assert code == 0, out
    bar = re.compile(r"database rows.*\d+/4.*eta|CMF files .*\d+/\d+.*eta")
    assert bar.search(out), out[-2000:]
    url2 = f"sqlite:///{tmp_path / 'q.sqlite'}"
    code, out = in_pty(["-q", "--db", url2, "demo", "--files", str(tmp_path / "g")])
    assert code == 0 and not bar.search(out) and "database rows" not in out
    r = cli("--db", f"sqlite:///{tmp_path / 'r.sqlite'}", "demo", "--files", str(tmp_path / "h"))
    assert r.code == 0 and not bar.search(r.out + r.err) and "database rows" not in r.out + r.err


def test_long_commands_show_progress_on_a_terminal_only(cli, demo_file, tmp_path):
    """definebyquery and pstamp-req cut draw their bar on a terminal; not under
    --json, not without a terminal."""
    import shutil

    import numpy as np
    from astropy.io import fits

    db = tmp_path / "copy.sqlite"
    shutil.copyfile(demo_file.removeprefix("sqlite:///"), db)
    def define(label):
        return ["--db", f"sqlite:///{db}", "definebyquery", "--night", NIGHT, "--filter", "w%",
                "--set-label", label, "--set-workdir", "neb://x/{label}", "--set-end-stage", "chip", "--yes"]

    code, out = in_pty(define("progress.test"))
    assert code == 0, out
    assert re.search(r"defining \d+ runs.*\d/2.*eta", out), out[-2000:]
    code, out = in_pty([*define("progress.json"), "--json"])
    assert code == 0 and "eta" not in out, out[-2000:]
    images = []
    for i in range(3):
        images.append(str(tmp_path / f"img{i}.fits"))
        fits.PrimaryHDU(np.zeros((40, 40), dtype="float32")).writeto(images[-1])
    cut = ["pstamp-req", "cut", *images, "--x", "20", "--y", "20", "--size", "8", "--workers", "1"]
    code, out = in_pty([*cut, "--outdir", str(tmp_path / "a")])
    assert code == 0, out
    assert re.search(r"cutting stamps.*3/3.*eta", out), out[-2000:]
    r = cli(*cut, "--outdir", str(tmp_path / "b"))
    assert r.code == 0 and "eta" not in r.err and "cutting" not in r.out + r.err


def test_bash_completes_stages_states_targets_and_formats(tmp_path):
    import shutil

    if not shutil.which("bash"):
        pytest.skip("bash not installed")
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "completions" / "mopstool.bash"
    lines = [["mopstool", "runs", ""], ["mopstool", "runs", "chip", "--state", "go"],
             ["mopstool", "czar", "--target", "E"], ["mopstool", "runs", "chip", "--format", "j"],
             ["mopstool", "faults", "--stage", "w"], ["mopstool", "runs", "chip", "-f", "c"]]
    prog = [f"source {script}"]
    for words in lines:
        quoted = " ".join("'" + w + "'" for w in words)
        prog.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _mopstool; "
                    "echo \"@@ ${COMPREPLY[*]}\"")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(prog)], capture_output=True,
                       text=True, timeout=60)
    got = [ln[3:].split() for ln in r.stdout.splitlines() if ln.startswith("@@ ")]
    assert "chip" in got[0] and "warp" in got[0] and "pstamp-request" in got[0]
    assert got[1] == ["goto_cleaned", "goto_purged", "goto_scrubbed"]
    assert set(got[2]) == {"ESS", "EU"}
    assert got[3] == ["json", "jsonl"]
    assert got[4] == ["warp"]
    assert got[5] == ["csv"]


def test_label_completion_from_the_database_through_the_cache(cli, demo_file, tmp_path, monkeypatch):
    """`labels cache` writes the labels of the recent runs; bash offers them for
    --label from the cache without starting mopstool; a database error leaves an
    empty list, prints nothing and exits 0."""
    import shutil
    from pathlib import Path

    if not shutil.which("bash"):
        pytest.skip("bash not installed")
    cache = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache))
    r = cli("--db", demo_file, "labels", "cache")
    assert r.code == 0 and r.out == "" and r.err == "", r.err
    labels = (cache / "mopstool" / "labels").read_text().split()
    assert "OSS.nightlyscience" in labels and "ps_ud_MOPS" in labels
    script = Path(__file__).resolve().parent.parent / "completions" / "mopstool.bash"
    prog = [f"source {script}", "mopstool() { echo started >> " + str(tmp_path / "started") + "; }"]
    for words in (["mopstool", "runs", "chip", "--label", "OSS"], ["mopstool", "czar", "--night", "x"],
                  ["mopstool", "updaterun", "chip", "--set-label", "ps_"]):
        quoted = " ".join("'" + w + "'" for w in words)
        prog.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _mopstool; "
                    "echo \"@@ ${COMPREPLY[*]}\"")
    out = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(prog)], capture_output=True,
                         text=True, timeout=60, env=dict(os.environ, XDG_CACHE_HOME=str(cache))).stdout
    got = [ln[3:].split() for ln in out.splitlines() if ln.startswith("@@ ")]
    assert got[0] == ["OSS.nightlyscience"] and got[2] == ["ps_ud_MOPS"], got
    assert not (tmp_path / "started").exists()          # a fresh cache: mopstool was not started
    r = cli("--db", "mysql+pymysql://nobody@127.0.0.1:1/nothing", "labels", "cache")
    assert r.code == 0 and r.out == "" and r.err == ""
    assert (cache / "mopstool" / "labels").read_text() == ""

