"""The command line itself: the lazy command table, cheap --help, Ctrl-C, -v/-q/--log-file.

No database fixture here: these tests run once, not per backend.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path


from mopstool.cli import main as cli_main
from mopstool.errors import ExitCode

REPO = Path(__file__).resolve().parents[1]
#: what --help, --version and completion must not import (typer._adapters: typer's
#: pydantic validators, built only when a value is coerced)
HEAVY = ("sqlalchemy", "mopstool.db.schema", "astropy", "fitsio", "numpy", "scipy", "pygal", "matplotlib",
         "typer._adapters")


def _python(code: str, *args: str, env=None, timeout=120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


# ------------------------------------------------------------------ the command table
def test_every_table_entry_resolves_to_its_command():
    names = [c.name for c in cli_main.COMMANDS]
    assert len(names) == len(set(names))
    root = cli_main.root_command()
    for entry in cli_main.COMMANDS:
        assert entry.section in cli_main.SECTIONS, entry
        cmd = root.get_command(None, entry.name)
        assert cmd is not None and cmd.name == entry.name, entry
        assert cmd.hidden == entry.hidden
        assert cmd.help, f"{entry.name}: the command has no help text of its own"


def test_a_new_command_is_one_more_line():
    table = cli_main.COMMANDS + [cli_main.Cmd("chipruns", "mopstool.cli.runs:runs", cli_main.MORNING,
                                               "The chip runs again.")]
    group = cli_main.LazyGroup(name="mopstool", table=table, rich_markup_mode=None)
    ctx = cli_main.click.Context(group, info_name="mopstool")
    text = group.get_help(ctx)
    assert "chipruns    The chip runs again." in text.split("Morning check:", 1)[1].split("Run management:")[0]
    assert group.get_command(ctx, "chipruns").name == "chipruns"


def test_table_summaries_fit_at_80_columns_and_are_not_cut():
    for entry in cli_main.COMMANDS:
        assert entry.help.endswith(".") and "..." not in entry.help.replace("(state, label, ...)", ""), entry
        # 2 indent + the widest name column (16) + 2 + summary <= 80
        assert len(entry.help) <= 60, entry
    r = _python("from mopstool.__main__ import main; main()", "--help",
                env=dict(os.environ, COLUMNS="80"))
    assert r.returncode == 0, r.stderr
    assert all(len(line) <= 80 for line in r.stdout.splitlines())
    for entry in cli_main.COMMANDS:
        if not entry.hidden:
            assert f"  {entry.name}" in r.stdout and entry.help in r.stdout.replace("\n" + " " * 17, " ")


def test_root_help_groups_commands_and_hides_docs(cli):
    r = cli("--help")
    assert r.code == 0
    heads = [line[:-1] for line in r.out.splitlines() if line and not line[0].isspace() and line.endswith(":")]
    assert heads == ["Options", *cli_main.SECTIONS]
    listed = {line.split()[0] for line in r.out.split("Morning check:", 1)[1].splitlines() if line.startswith("  ")}
    assert "docs" not in listed and {"czar", "cleanup", "pstamp-req", "mopscat", "chiptool", "db"} <= listed
    assert cli("docs", "--help").code == 0            # hidden, not gone


def test_legacy_entries_are_the_legacy_tools():
    from mopstool.legacy.modes import TOOLS

    assert [c.name for c in cli_main.COMMANDS if c.section == cli_main.LEGACY] == list(TOOLS)


def test_placeholders_are_words(cli):
    r = cli("runs", "--help")
    assert "<" not in r.out and "{" not in r.out, r.out
    assert "-l, --label LABEL" in r.out and "--night YYYY-MM-DD" in r.out and "--limit N" in r.out
    assert r.out.splitlines()[0] == "Usage: mopstool runs [OPTIONS] STAGE"


def test_group_summaries_are_whole_sentences(cli):
    text = cli("pstamp-req", "--help").out.split("Commands:", 1)[1]
    assert not [line for line in text.splitlines() if line.rstrip().endswith("...")], text
    assert "per label and state" in text.replace("\n", " ").replace("  ", " ")


def test_unknown_command_suggests_a_close_name(cli):
    r = cli("czr")
    assert r.code == ExitCode.USAGE and "czar" in r.err


# ------------------------------------------------------------------ start-up cost
def _help_paths() -> list[list[str]]:
    """Every command path: the table, then the subcommands of each group."""
    root = cli_main.root_command()
    paths = []
    for entry in cli_main.COMMANDS:
        paths.append([entry.name])
        cmd = root.get_command(None, entry.name)
        paths += [[entry.name, sub] for sub in getattr(cmd, "commands", {}) or {}]
    return paths


def test_help_version_and_completion_import_no_heavy_module():
    code = """
        import json, os, sys
        from mopstool.cli.main import main
        heavy = {heavy!r}
        result = {{}}
        for args in json.loads(sys.argv[1]):
            try:
                main(args)
            except SystemExit:
                pass
            result[" ".join(args)] = [m for m in heavy if m in sys.modules]
            result[" ".join(args) + " modules"] = sorted(m for m in sys.modules if m.startswith("mopstool.cli."))
        sys.stdout = sys.__stdout__
        print("RESULT" + json.dumps(result))
    """.format(heavy=HEAVY)
    # the root --help and --version first, each in a fresh process: no command module is imported
    for args in (["--help"], ["--version"], []):
        r = _python(code, json.dumps([args]))
        res = json.loads(r.stdout.rsplit("RESULT", 1)[1])
        key = " ".join(args)
        assert res[key] == [], (args, res[key])
        assert set(res[key + " modules"]) <= {"mopstool.cli.common", "mopstool.cli.main", "mopstool.cli.logs"}, \
            res[key + " modules"]
    # then every subcommand's --help in one process: none of them pulls a heavy module in
    paths = [p + ["--help"] for p in _help_paths()]
    # 'fixbroken status|finish --help', 'cleanup status --help': click runs the group's callback first, and typer
    # coerces that callback's options (the command's own) through pydantic; they run in a
    # process of their own, where nothing else heavy may be loaded
    grouped = [a for a in paths if a[0] in ("fixbroken", "cleanup") and len(a) > 2]
    plain = [a for a in paths if a not in grouped]
    for batch, allowed in ((plain, set()), (grouped, {"typer._adapters"})):
        r = _python(code, json.dumps(batch))
        res = json.loads(r.stdout.rsplit("RESULT", 1)[1])
        for args in batch:
            got = [m for m in res[" ".join(args)] if m not in allowed]
            assert got == [], (args, got)
    # completion is static: the scripts never start Python (or mopstool) on a TAB
    for script in (REPO / "completions").iterdir():
        body = script.read_text()
        assert "python" not in body and "_MOPSTOOL_COMPLETE" not in body, script.name
        assert "mopstool " not in "".join(ln for ln in body.splitlines() if "$(" in ln), script.name


def test_heavy_guard_would_notice():
    r = _python("import sys, mopstool.db.schema; print([m for m in {h!r} if m in sys.modules])".format(h=HEAVY))
    assert "sqlalchemy" in r.stdout and "mopstool.db.schema" in r.stdout


# ------------------------------------------------------------------ garbage collection at start-up
def test_collection_is_held_during_start_up_and_back_with_the_first_engine(tmp_path):
    """The console script holds automatic garbage collection while it imports and
    builds; the first database engine freezes what exists and turns it back on.
    A library or in-process caller (the tests) is never touched."""
    r = _python("""
        import gc, sys
        from mopstool import _startup
        from mopstool.db import make_engine
        make_engine("sqlite:///" + sys.argv[1] + "/a.sqlite").dispose()   # not held: nothing changes
        untouched = (gc.isenabled(), gc.get_freeze_count())
        _startup.hold()
        held = gc.isenabled()
        import sqlalchemy, mopstool.cli.main
        make_engine("sqlite:///" + sys.argv[1] + "/b.sqlite").dispose()
        print(untouched, held, gc.isenabled(), gc.get_freeze_count() > 1000)
    """, str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(True,", "0)", "False", "True", "True"]


def test_collection_is_back_with_the_first_wcs(tmp_path):
    """A FITS command that opens no database (pstamp-req cut) ends the hold when it
    first builds a WCS, frozen as with an engine, not at the timeout unfrozen."""
    r = _python("""
        import gc, sys
        from mopstool import _startup
        from mopstool.fits.image import header_wcs
        hdr = {"CTYPE1": "RA---TAN", "CTYPE2": "DEC--TAN", "CRVAL1": 150.0, "CRVAL2": 2.0,
               "CRPIX1": 10.0, "CRPIX2": 10.0, "CD1_1": -7e-5, "CD1_2": 0.0, "CD2_1": 0.0,
               "CD2_2": 7e-5, "NAXIS": 2, "NAXIS1": 20, "NAXIS2": 20}
        from astropy.io import fits
        header_wcs(fits.Header(hdr))                                      # not held: nothing changes
        untouched = (gc.isenabled(), gc.get_freeze_count())
        _startup.hold()
        held = gc.isenabled()
        header_wcs(fits.Header(hdr))
        print(untouched, held, gc.isenabled(), gc.get_freeze_count() > 1000)
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["(True,", "0)", "False", "True", "True"]


def test_a_worker_forked_during_the_hold_collects():
    r = _python("""
        import gc, os
        from mopstool import _startup
        _startup.hold()
        pid = os.fork()
        if pid == 0:
            os._exit(0 if gc.isenabled() else 1)
        _, status = os.waitpid(pid, 0)
        print(gc.isenabled(), os.waitstatus_to_exitcode(status))
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "0"]


def test_collection_comes_back_when_no_engine_is_made():
    r = _python("""
        import gc, time
        from mopstool import _startup
        _startup.HOLD_SECONDS = 0.05
        _startup.hold()
        before = gc.isenabled()
        time.sleep(1)
        print(before, gc.isenabled(), gc.get_freeze_count())
    """)
    assert r.returncode == 0, r.stderr
    assert r.stdout.split() == ["False", "True", "0"]


# ------------------------------------------------------------------ Ctrl-C
def test_interrupt_in_a_command_is_one_line_and_130(cli, monkeypatch):
    import mopstool.cli.configcmd as configcmd

    def boom(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:   # only this patch is undone (HOME stays the test's own)
        mp.setattr(cli_main.LazyGroup, "get_command", lambda self, ctx, name: None)
        r = cli("config", "show")
    assert r.code == ExitCode.USAGE                   # sanity: the table is what resolves commands
    monkeypatch.setattr(configcmd, "render", boom)
    r = cli("config", "show")
    assert r.code == ExitCode.INTERRUPTED
    assert r.err.splitlines() == ["mopstool: interrupted; the unfinished transaction, if any, was rolled back"]


def test_interrupt_during_start_up_is_one_line_and_130():
    r = _python("""
        import builtins
        real = builtins.__import__
        def imp(name, *a, **k):
            if name == "mopstool.cli.main":
                raise KeyboardInterrupt
            return real(name, *a, **k)
        builtins.__import__ = imp
        from mopstool.__main__ import main
        main()
    """)
    assert r.returncode == ExitCode.INTERRUPTED
    assert r.stderr.splitlines() == ["mopstool: interrupted during start-up; nothing was done"]


def _wait_until(pred, timeout=30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_interrupt_while_sqlite_waits_on_a_lock_acts_at_once(tmp_path):
    """The command is stuck in SQLite's busy handler (C code); Ctrl-C must not wait for the lock."""
    db = tmp_path / "locked.sqlite"
    r = subprocess.run([sys.executable, "-m", "mopstool", "--db", f"sqlite:///{db}", "db", "init"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    holder = sqlite3.connect(db, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")                 # readers and writers wait (busy_timeout 30 s)
    try:
        # Ctrl-C as at a terminal, also when the suite itself runs with SIGINT ignored (a background job)
        proc = subprocess.Popen([sys.executable, "-m", "mopstool", "--db", f"sqlite:///{db}", "runs", "chip"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

        def waiting() -> bool:
            try:
                fds = [os.readlink(f"/proc/{proc.pid}/fd/{fd}") for fd in os.listdir(f"/proc/{proc.pid}/fd")]
                wchan = Path(f"/proc/{proc.pid}/wchan").read_text()
            except OSError:
                return False
            return str(db) in fds and "sleep" in wchan

        assert _wait_until(waiting), "the command never reached the lock"
        proc.send_signal(signal.SIGINT)
        # the lock is still held: a command that waited for it would not end within the timeout
        out, err = proc.communicate(timeout=15)
    finally:
        holder.rollback()
        holder.close()
    assert proc.returncode == ExitCode.INTERRUPTED, err
    assert err.splitlines() == ["mopstool: interrupted; the unfinished transaction, if any, was rolled back"]
    assert out == ""


# ------------------------------------------------------------------ -v / -q / --log-file
def test_quiet_verbose_and_log_file(cli, tmp_path):
    out = tmp_path / "docs"
    noisy = cli("docs", "generate", "--check", "--out", str(out))
    assert noisy.code == ExitCode.CHECK_FAILED and "stale: man/man1/mopstool.1" in noisy.err
    log = tmp_path / "cron.jsonl"
    quiet = cli("docs", "generate", "--check", "--out", str(out), "-q", "--log-file", str(log))
    assert quiet.code == ExitCode.CHECK_FAILED
    # -q keeps only the result line; the log file keeps everything, one JSON object per line
    assert quiet.err.splitlines() == [noisy.err.splitlines()[-1]]
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert any(r["message"] == "stale: man/man1/mopstool.1" and r["level"] == "note" for r in records)
    assert records[-2]["level"] == "error" and records[-2]["message"].startswith("mopstool: ")
    assert records[-1]["exit_code"] == 3 and records[-1]["command"].startswith("mopstool ")
    assert all(r["ts"].endswith("Z") for r in records)
    assert (log.stat().st_mode & 0o077) == 0           # owner only
    r = cli("-q", "-v", "docs", "generate", "--check", "--out", str(out))
    assert r.code == ExitCode.USAGE and r.err.startswith("mopstool: error: -q/--quiet and -v/--verbose")


def test_log_file_masks_passwords(cli, tmp_path):
    log = tmp_path / "l.jsonl"
    cli("--log-file", str(log), "--db", "mysql+pymysql://ipp:s3cret@127.0.0.1:1/gpc1", "--help")
    cli("--log-file", str(log), "--db", "mysql+pymysql://ipp:s3cret@127.0.0.1:1/gpc1", "docs", "--help")
    text = log.read_text() if log.exists() else ""
    assert "s3cret" not in text


def test_root_options_after_the_subcommand():
    assert cli_main.hoist_global_options(["runs", "chip", "-v", "--log-file", "x"]) == \
        ["-v", "--log-file", "x", "runs", "chip"]
    # a legacy recipe keeps its own single-dash words
    assert cli_main.hoist_global_options(["chiptool", "-listrun", "-v"]) == ["chiptool", "-listrun", "-v"]


# ------------------------------------------------------------------ man pages in the wheel
def test_wheel_ships_every_man_page_and_completion():
    import tomllib

    meta = tomllib.loads((REPO / "pyproject.toml").read_text())
    data = meta["tool"]["setuptools"]["data-files"]
    assert data["share/man/man1"] == ["man/man1/*.1"]
    assert sorted(p.name for p in (REPO / "man" / "man1").glob("*.1"))
    assert not list((REPO / "man").glob("*.1"))       # nothing left in the old flat layout
    for target, files in data.items():
        for pattern in files:
            assert list(REPO.glob(pattern)), (target, pattern)
    assert meta["project"]["scripts"]["mopstool"] == "mopstool.__main__:main"
