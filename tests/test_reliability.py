"""Reliability: what docs/reliability.md promises, on SQLite, MariaDB and an
IPP-DDL MariaDB (the conftest ``db_url`` backends).

- Bad input (the table :data:`CASES`): one line on stderr, the documented exit
  code, and every table of the database unchanged (checksums before and after).
- A SELECT-only database user, a read-only SQLite file or directory, a full disk:
  writers refuse with their code and change nothing; readers work.
- Concurrent writers and a prompt held open while another writer commits leave
  the state of one run; the prompt names the database it changes.
- A client killed inside its write transaction leaves nothing half done and no
  lock behind.

The ops-level halves of the write protocol are in tests/test_writes.py (whose
helpers these tests share); cleanup's batches under a SIGKILL are in
tests/test_cleanup.py.
"""

from __future__ import annotations

import hashlib
import json
import os
import pty
import resource
import select as _select
import shutil
import subprocess
import sys
import textwrap
import time
from datetime import datetime

import pytest
from sqlalchemy import create_engine, inspect, text

from mopstool.db import Databases
from mopstool.errors import ExitCode
from mopstool.ops.demo.synth import Synth
from test_writes import CLASSES, DEFINE, N, _config, _exposures, _imfiles, _runs_per_exposure

NIGHT = "2018-05-25"
LABEL = "L.rel"
BIG = str(2 ** 63)          # one past the largest BIGINT
HUGE = str(2 ** 64)


# ---------------------------------------------------------------------- helpers

def checksums(url: str) -> dict[str, str]:
    """A digest of the rows of every table of the database (and of the audit file)."""
    eng = create_engine(url)
    out: dict[str, str] = {}
    try:
        with eng.connect() as conn:
            quote = conn.dialect.identifier_preparer.quote
            for name in sorted(inspect(conn).get_table_names()):
                rows = sorted(repr(tuple(r)) for r in conn.exec_driver_sql(f"SELECT * FROM {quote(name)}"))
                out[name] = hashlib.sha1("\n".join(rows).encode()).hexdigest()
    finally:
        eng.dispose()
    audit = os.path.join(os.environ["XDG_DATA_HOME"], "mopstool", "audit.jsonl")
    out["audit.jsonl"] = (hashlib.sha1(open(audit, "rb").read()).hexdigest()
                          if os.path.exists(audit) else "")
    return out


def _env(**extra) -> dict[str, str]:
    env = dict(os.environ, **extra)
    env.pop("CI", None)
    return env


def _mopstool(*args) -> list[str]:
    return [sys.executable, "-m", "mopstool", *args]


def _load(dbs) -> int:
    """Two exposures of NIGHT with chip runs labelled LABEL, the Label row, one
    stamp request. Returns the request id."""
    with dbs.begin() as conn:
        s = Synth(conn, conn)
        for hour in (8, 9):
            ch = s.exposure(dateobs=datetime(2018, 5, 25, hour), class_ids=CLASSES)
            s.chip(ch, label=LABEL, class_ids=CLASSES)
        s.exposure(dateobs=datetime(2018, 5, 25, 10), class_ids=CLASSES)   # not defined yet
        from mopstool.db import schema

        conn.execute(schema.Label.insert().values(label=LABEL, priority=100, active=1, comment="c"))
        return s.pstamp_request(name="MOPS.rel", label="MOPS", state="run")


def _error_lines(err: str) -> list[str]:
    """stderr without the legacy front's '# modern equivalent' line."""
    return [ln for ln in err.splitlines() if not ln.startswith("# modern equivalent")]


# ---------------------------------------------------------------------- the bad-input table
#: (case, command words, exit code, a word of the error line). {req} is the stamp
#: request, {cfg} a config with [cleanup] batch_size = 0, {cfg_types} one with a
#: preset of the wrong types, {cfg_password} one whose profile's password file
#: cannot be read, {out} a file not to write.
CASES = [
    # ids above 2^63, negative, not a number (modern options, an argument, the legacy front)
    ("id 2^63", ["updaterun", "chip", "--id", BIG, "--set-label", "L.x", "--yes"], 2, "--id"),
    ("id 2^64 revert", ["revert", "chip", "--id", HUGE, "--yes"], 2, "out of range"),
    ("id 2^63 show", ["show", "chip", BIG], 2, "RUN_ID"),
    ("exp-id 2^63", ["definebyquery", "--exp-id", BIG, "--set-label", "L.x", "--set-workdir", "W",
                     "--yes"], 2, "--exp-id"),
    ("negative id", ["updaterun", "chip", "--id", "-1", "--set-label", "L.x", "--yes"], 2, "--id"),
    ("id not a number", ["updaterun", "chip", "--id", "12x", "--set-label", "L.x", "--yes"], 2,
     "not a whole number"),
    ("req-id 2^64", ["pstamp-req", "update", "--id", HUGE, "--set-state", "stop", "--yes"], 2,
     "--id"),
    ("legacy id 2^64", ["chiptool", "-updaterun", "-chip_id", HUGE, "-set_label", "L.x"], 3,
     "64-bit"),
    # negative --limit
    ("limit -5", ["runs", "chip", "--limit", "-5"], 2, "--limit"),
    ("limit -5 define", ["definebyquery", "--night", NIGHT, "--limit", "-5", "--set-label", "L.x",
                         "--set-workdir", "W", "--yes"], 2, "--limit"),
    ("limit -1 pstamp", ["pstamp-req", "list", "--limit", "-1"], 2, "--limit"),
    # strings longer than the column, and text latin1 cannot hold
    ("label 65 chars", ["updaterun", "chip", "--label", LABEL, "--set-label", "x" * 65, "--yes"], 65,
     "at most 64"),
    ("note 256 chars", ["updaterun", "chip", "--label", LABEL, "--set-note", "n" * 256, "--yes"], 65,
     "at most 255"),
    ("label non-latin1", ["updaterun", "chip", "--label", LABEL, "--set-label", "L.€", "--yes"], 65,
     "latin1"),
    ("data group non-latin1", ["updaterun", "chip", "--label", LABEL, "--set-data-group", "OSS.Ω",
                               "--yes"], 65, "latin1"),
    ("define label 65", ["definebyquery", "--night", NIGHT, "--set-label", "x" * 65, "--set-workdir", "W",
                         "--yes"], 65, "--set-label"),
    ("define workdir non-latin1", ["definebyquery", "--night", NIGHT, "--set-label", "L.new",
                                   "--set-workdir", "neb://€/x", "--yes"], 65, "--set-workdir"),
    ("labels add 65", ["labels", "add", "x" * 65], 65, "at most 64"),
    ("labels add non-latin1", ["labels", "add", "L.ü€"], 65, "latin1"),
    ("labels comment 81", ["labels", "update", LABEL, "--comment", "c" * 81, "--yes"], 65, "at most 80"),
    ("labels priority 2^40", ["labels", "update", LABEL, "--priority", str(2 ** 40), "--yes"], 65,
     "out of range"),
    ("stamp label 65", ["pstamp-req", "update", "--id", "{req}", "--set-label", "x" * 65, "--yes"], 65,
     "--set-label"),
    ("legacy label 65", ["chiptool", "-updaterun", "-label", LABEL, "-set_label", "x" * 65], 3, "at most 64"),
    ("legacy stamp label latin1", ["pstamptool", "-updatereq", "-req_id", "{req}", "-set_label", "M€"], 3,
     "latin1"),
    # --batch-size 0 and negative (option and config)
    ("batch-size 0", ["cleanup", "--as-of", "2018-07-11", "--batch-size", "0", "--yes"], 2, "--batch-size"),
    ("batch-size -3", ["cleanup", "--as-of", "2018-07-11", "--batch-size", "-3", "--yes"], 2,
     "--batch-size"),
    ("batch_size 0 config", ["cleanup", "--as-of", "2018-07-11", "--yes", "--config", "{cfg}"], 78,
     "batch_size"),
    # RA / Dec out of range
    ("RA 400", ["pstamp-req", "create", "--ra", "400", "--dec", "10", "--mjd", "58263", "--img-type",
                "warp", "--email", "a@b.c", "-o", "{out}"], 65, "RA 400"),
    ("Dec 95", ["pstamp-req", "create", "--ra", "10", "--dec", "95", "--mjd", "58263", "--img-type",
                "warp", "--email", "a@b.c", "-o", "{out}"], 65, "Dec 95"),
    ("ra-min 400", ["definebyquery", "--night", NIGHT, "--ra-min", "400", "--set-label", "L.x",
                    "--set-workdir", "W", "--yes"],
     2, "--ra-min"),
    ("decl-max -95", ["definebyquery", "--night", NIGHT, "--decl-max", "-95", "--set-label", "L.x",
                      "--set-workdir", "W", "--yes"], 2, "--decl-max"),
    ("RA nan", ["definebyquery", "--night", NIGHT, "--ra-max", "nan", "--set-label", "L.x",
                "--set-workdir", "W", "--yes"], 2,
     "finite"),
    # overflowing dates and durations
    ("night 9999-12-31", ["definebyquery", "--night", "9999-12-31", "--set-label", "L.x", "--set-workdir", "W",
                          "--yes"], 2, "out of range"),
    ("as-of 0001-01-01", ["cleanup", "--as-of", "0001-01-01", "--yes"], 2, "out of range"),
    ("duration 10^11 days", ["pstamp-req", "cleanup", "--older-than", "99999999999d", "--yes"], 2,
     "at most"),
    # config values of the wrong type, an unreadable password file
    ("preset label a number", ["definebyquery", "--night", NIGHT, "--preset", "typo", "--yes",
                               "--config", "{cfg_types}"], 78, "label"),
    ("unreadable password file", ["updaterun", "chip", "--label", LABEL, "--set-label", "L.x", "--yes",
                                  "--dbname", "locked", "--config", "{cfg_password}"], 77, "password file"),
]


def test_every_bad_input_is_one_line_its_code_and_changes_nothing(cli, db_url, dbs, tmp_path):
    req = _load(dbs)
    cfg = tmp_path / "batch0.toml"
    cfg.write_text("[cleanup]\nbatch_size = 0\n")
    cfg.chmod(0o600)
    cfg_types = tmp_path / "types.toml"
    cfg_types.write_text('[presets.typo]\nlabel = 5\nworkdir = ["a", "b"]\n')
    cfg_types.chmod(0o600)
    secret = tmp_path / "secret"   # a directory: unreadable as a file, also for root
    secret.mkdir(mode=0o700)
    cfg_password = tmp_path / "password.toml"
    cfg_password.write_text(f'[database.locked]\nserver = "127.0.0.1"\nname = "gpc1"\nuser = "u"\n'
                            f'password_file = "{secret}"\n')
    cfg_password.chmod(0o600)
    out = tmp_path / "never.fits"
    start = checksums(db_url)
    failures = []
    for case, words, code, word in CASES:
        args = [w.format(req=req, cfg=cfg, out=out, cfg_types=cfg_types, cfg_password=cfg_password)
                for w in words]
        legacy = args[0] in ("chiptool", "warptool", "difftool", "pstamptool")
        by_name = "--dbname" in args   # the database comes from the named profile
        r = cli(*(["--db", db_url] + args if legacy else args if by_name else args + ["--db", db_url]))
        lines = _error_lines(r.err)
        problems = []
        if r.code != code:
            problems.append(f"exit {r.code}, expected {code}")
        if len(lines) != 1 or not lines[0].startswith("mopstool: error: ") or word not in lines[0]:
            problems.append(f"stderr {r.err!r}")
        if checksums(db_url) != start:
            problems.append("the database changed")
            start = checksums(db_url)
        if out.exists():
            problems.append(f"{out} was written")
            out.unlink()
        if problems:
            failures.append(f"{case}: {'; '.join(problems)}")
    assert not failures, "\n".join(failures)
    # the same database takes good input (the refusals above were not a broken setup)
    r = cli("updaterun", "chip", "--label", LABEL, "--set-label", "L.ok", "--yes", "--db", db_url)
    assert r.code == 0, r.err
    assert checksums(db_url) != start


def test_a_stamp_request_file_with_ra_or_dec_out_of_range_is_rejected(cli, tmp_path):
    from mopstool.fits.request import StampRequest, default_row, write_request

    rows = [default_row(ROWNUM=1, CENTER_X=400.0, CENTER_Y=10.0, WIDTH=50, HEIGHT=50, IMG_TYPE="warp",
                        MJD_MIN=58263.0, MJD_MAX=58264.0, PROJECT="gpc1"),
            default_row(ROWNUM=2, CENTER_X=10.0, CENTER_Y=95.0, WIDTH=50, HEIGHT=50, IMG_TYPE="warp",
                        MJD_MIN=58263.0, MJD_MAX=58264.0, PROJECT="gpc1"),
            default_row(ROWNUM=3, CENTER_X=10.0, CENTER_Y=-20.0, WIDTH=50, HEIGHT=50, IMG_TYPE="warp",
                        MJD_MIN=58263.0, MJD_MAX=58264.0, PROJECT="gpc1")]
    path = write_request(StampRequest(req_name="rel.radec", email="a@b.c", rows=rows), tmp_path / "r.fits")
    r = cli("pstamp-req", "validate", str(path), "--json")
    assert r.code == ExitCode.CHECK_FAILED, r.err
    bad = {p["rownum"]: p for p in r.json()["problems"]}
    assert set(bad) == {1, 2}
    assert bad[1]["fault"] == bad[2]["fault"] == 21
    assert "RA" in bad[1]["problem"] and "Dec" in bad[2]["problem"]


# ---------------------------------------------------------------------- permissions and faults

WRITERS = [
    ["updaterun", "chip", "--label", LABEL, "--set-label", "L.w", "--yes"],
    ["definebyquery", "--night", NIGHT, "--set-label", "L.d", "--set-workdir", "W", "--yes"],
    ["labels", "add", "L.new"],
]
READER = ["runs", "chip", "--label", LABEL, "--json"]


@pytest.fixture
def select_only_url(db_url):
    """*db_url* through a MariaDB user that may only SELECT (MariaDB backends only)."""
    if db_url.startswith("sqlite"):
        pytest.skip("database users are a MariaDB matter")
    from conftest import DB_PREFIX, SESSION

    user = f"{DB_PREFIX}{SESSION}_ro"[:64]
    base, _, name = db_url.rpartition("/")
    root = create_engine(base + "/")
    with root.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        conn.execute(text(f"CREATE USER '{user}'@'%'"))
        conn.execute(text(f"GRANT SELECT ON `{name}`.* TO '{user}'@'%'"))
    host = base.split("@", 1)[1]
    yield f"mysql+pymysql://{user}@{host}/{name}"
    with root.begin() as conn:
        conn.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
    root.dispose()


def test_a_select_only_user_reads_and_every_writer_exits_77(cli, db_url, dbs, select_only_url):
    _load(dbs)
    start = checksums(db_url)
    r = cli(*READER, "--db", select_only_url)
    assert r.code == 0 and len(r.json()) == 2, r.err
    for words in WRITERS:
        r = cli(*words, "--db", select_only_url)
        lines = _error_lines(r.err)
        assert r.code == ExitCode.PERMISSION == 77, (words, r.err)
        assert "may not change" in lines[-1] and "denied" in lines[-1], r.err
        assert sum(ln.startswith("mopstool: error:") for ln in lines) == 1
    assert checksums(db_url) == start


def _read_only_mount(path) -> list[str] | None:
    """A command prefix that runs a command with *path* mounted read-only, or None."""
    if os.geteuid() != 0 or not shutil.which("unshare"):
        return None
    probe = subprocess.run(["unshare", "-m", "sh", "-c", f"mount --bind -o ro {path} {path}"],
                           capture_output=True)
    if probe.returncode != 0:
        return None
    return ["unshare", "-m", "sh", "-c", f'mount --bind -o ro "$0" "$0" && exec "$@"', str(path)]


@pytest.fixture
def sqlite_url(_sqlite_template, tmp_path):
    """A SQLite gpc1 of its own, loaded with :func:`_load` (the faults below are of a file)."""
    path = tmp_path / "gpc1.sqlite"
    shutil.copyfile(_sqlite_template, path)
    url = f"sqlite:///{path}"
    dbs = Databases(url, url)
    _load(dbs)
    dbs.dispose()
    return url


@pytest.mark.parametrize("what", ["file", "directory"])
def test_a_read_only_sqlite_database_refuses_writers_with_77(sqlite_url, what):
    db_url = sqlite_url
    path = db_url[len("sqlite:///"):]
    target = path if what == "file" else os.path.dirname(path)
    prefix = _read_only_mount(target)
    if prefix is None:
        if os.geteuid() == 0:
            pytest.skip("no read-only mount here (unshare)")
        prefix = []
        os.chmod(target, 0o555 if what == "directory" else 0o444)
    start = checksums(db_url)
    try:
        reader = subprocess.run(prefix + _mopstool(*READER, "--db", db_url), capture_output=True,
                                text=True, env=_env(), timeout=120)
        assert reader.returncode == 0 and len(json.loads(reader.stdout)) == 2, reader.stderr
        for words in WRITERS:
            r = subprocess.run(prefix + _mopstool(*words, "--db", db_url), capture_output=True, text=True,
                               env=_env(), timeout=120)
            assert r.returncode == ExitCode.PERMISSION, (words, r.stderr)
            assert r.stderr.splitlines()[-1].startswith("mopstool: error: the SQLite database is read-only")
            assert "Traceback" not in r.stderr
    finally:
        os.chmod(target, 0o755 if what == "directory" else 0o644)
    assert checksums(db_url) == start


def test_a_full_disk_is_exit_74_and_changes_nothing(sqlite_url):
    """No byte may be written to any file (RLIMIT_FSIZE 0): SQLite cannot write its journal."""
    db_url = sqlite_url
    start = checksums(db_url)

    def no_file_growth():
        resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))

    for words in WRITERS[:2]:
        r = subprocess.run(_mopstool(*words, "--db", db_url), capture_output=True, text=True, env=_env(),
                           preexec_fn=no_file_growth, timeout=120)
        assert r.returncode == ExitCode.IOERR == 74, (words, r.stderr)
        assert r.stderr.splitlines()[-1].startswith("mopstool: error: cannot write the SQLite database")
    assert checksums(db_url) == start


# ---------------------------------------------------------------------- a killed client

def test_a_client_killed_inside_its_transaction_leaves_nothing_and_no_lock(cli, db_url, dbs):
    """SIGKILL after the UPDATE, before the commit: the rows and the audit are as
    before, and the next writer gets the lock at once."""
    _load(dbs)
    start = checksums(db_url)
    script = textwrap.dedent(f"""
        import os, signal
        import mopstool.ops.writes as writes
        from mopstool.db import Databases
        from mopstool.ops.runs.manage import RunSetters, update_runs
        from mopstool.stages.joins import RunFilter

        def killed(*args, **kwargs):
            os.kill(os.getpid(), signal.SIGKILL)

        writes.record_audit = killed
        update_runs(Databases({db_url!r}, {db_url!r}), "chip", RunFilter(labels=[{LABEL!r}]),
                    RunSetters(label="L.killed"))
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, env=_env(), timeout=120)
    assert proc.returncode == -9, proc.stderr.decode()
    assert checksums(db_url) == start
    r = cli("updaterun", "chip", "--label", LABEL, "--set-label", "L.after", "--yes", "--json",
            "--db", db_url)
    assert r.code == 0, r.err
    assert checksums(db_url) != start


# ---------------------------------------------------------------------- concurrent writers

def test_two_concurrent_writers_define_one_run_per_exposure(db_url, dbs, tmp_path):
    _exposures(dbs)
    cfg = _config(tmp_path, lock_timeout=120)
    procs = [subprocess.Popen(_mopstool(*DEFINE, "--yes", "--db", db_url, "--config", cfg, "--json"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_env(), text=True)
             for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    codes = [p.returncode for p in procs]
    assert codes == [0, 0], outs
    per = _runs_per_exposure(dbs)
    assert len(per) == N and set(per.values()) == {1}
    assert _imfiles(dbs) == N * len(CLASSES)
    defined = [json.loads(o) for o, _ in outs]
    assert sorted(len(d) for d in defined) == [0, N]


class _Pty:
    """A mopstool process on a terminal (stdin, stdout and stderr on one pty)."""

    def __init__(self, args):
        self.master, slave = pty.openpty()
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=_env(),
                                     close_fds=True)
        os.close(slave)
        self.text = ""

    def expect(self, word: str, timeout: float = 300) -> None:
        deadline = time.monotonic() + timeout
        while word not in self.text:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {word!r} in {self.text!r}")
            r, _, _ = _select.select([self.master], [], [], 1)
            if r:
                try:
                    self.text += os.read(self.master, 4096).decode(errors="replace")
                except OSError:
                    if self.proc.poll() is not None:
                        raise AssertionError(f"exited before {word!r}: {self.text!r}") from None

    def answer(self, line: str) -> int:
        os.write(self.master, (line + "\n").encode())
        code = self.proc.wait(300)
        try:
            while True:
                r, _, _ = _select.select([self.master], [], [], 0.5)
                if not r:
                    break
                self.text += os.read(self.master, 4096).decode(errors="replace")
        except OSError:
            pass
        os.close(self.master)
        return code


def test_a_prompt_held_open_while_cron_commits_makes_no_duplicates(db_url, dbs, tmp_path):
    _exposures(dbs)
    cfg = _config(tmp_path, confirm_above=0, lock_timeout=120)
    operator = _Pty(_mopstool(*DEFINE, "--db", db_url, "--config", cfg))
    operator.expect("Continue?")
    # the question names the database the change goes to
    assert f"in {Databases(db_url, db_url).describe()}" in " ".join(operator.text.split())
    cron = subprocess.run(_mopstool(*DEFINE, "--yes", "--db", db_url, "--config", cfg, "--json"),
                          capture_output=True, text=True, env=_env(), timeout=300)
    assert cron.returncode == 0, cron.stderr
    assert f"definebyquery: database {Databases(db_url, db_url).describe()}" in cron.stderr
    assert len(_runs_per_exposure(dbs)) == N
    code = operator.answer("y")
    assert code == 0, operator.text
    assert "another writer committed meanwhile" in operator.text
    per = _runs_per_exposure(dbs)
    assert len(per) == N and set(per.values()) == {1}
    assert _imfiles(dbs) == N * len(CLASSES)


def test_declining_the_prompt_exits_10_and_writes_nothing(db_url, dbs, tmp_path):
    _exposures(dbs, 2)
    cfg = _config(tmp_path, confirm_above=0)
    start = checksums(db_url)
    operator = _Pty(_mopstool(*DEFINE, "--db", db_url, "--config", cfg))
    operator.expect("Continue?")
    code = operator.answer("n")
    assert code == ExitCode.DECLINED == 10, operator.text
    assert "cancelled; nothing written" in operator.text
    assert _runs_per_exposure(dbs) == {}
    assert checksums(db_url) == start


# ---------------------------------------------------------------------- the database a writer names

def test_the_database_a_writer_names_has_its_password_masked():
    dbs = Databases("mysql+pymysql://ipp:s3cret@ippdb01/gpc1",
                    "mysql+pymysql://ipp:s3cret@ippdb02/ippRequestServer")
    assert dbs.describe() == "mysql+pymysql://ipp:***@ippdb01/gpc1"
    assert dbs.describe(pstamp_db=True) == "mysql+pymysql://ipp:***@ippdb02/ippRequestServer"
    assert "s3cret" not in dbs.describe() + dbs.describe(True)


def test_the_engine_guard_refuses_what_a_writer_did_not_check(db_url, dbs):
    """Any INSERT or UPDATE through mopstool's engines: the value is checked against
    the column before it is sent, and the transaction rolls back."""
    from sqlalchemy import update

    from mopstool.db import schema
    from mopstool.errors import DataError

    _load(dbs)
    start = checksums(db_url)
    bad = [schema.Label.insert().values(label="L.g", comment="c" * 81),
           update(schema.chipRun).where(schema.chipRun.c.label == LABEL).values(workdir="neb://€"),
           update(schema.Label).where(schema.Label.c.label == LABEL).values(priority=2 ** 31),
           update(schema.chipRun).where(schema.chipRun.c.chip_id == 2 ** 63).values(label="L.g")]
    for stmt in bad:
        with pytest.raises(DataError):
            with dbs.begin() as conn:
                conn.execute(update(schema.Label).where(schema.Label.c.label == LABEL).values(active=0))
                conn.execute(stmt)
    assert checksums(db_url) == start
