"""--watch under a pseudo-terminal: czar --watch and night --watch refresh in
place with a short interval, announce the chunks ready for desperate diffs
(with the bell), and stop on Ctrl-C (SIGINT) with exit 130 and one line on
stderr. The interval parser and the ready-chunk events on their own."""

from __future__ import annotations

import fcntl
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest

from mopstool._interrupt import MESSAGE
from mopstool.cli.report import ready_events
from mopstool.cli.watch import parse_every
from mopstool.config import load_config
from mopstool.errors import UsageError
from mopstool.ops.demo.night import run_demo

from test_nightly_helpers import NIGHT

#: the one line a Ctrl-C prints: the watch loop's own, or, when the process is
#: inside C code (a query, a drawing) and cannot act within the grace time,
#: the interrupt watcher's (mopstool._interrupt)
INTERRUPT_LINES = (["mopstool: error: interrupted"], [MESSAGE])
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


@pytest.fixture
def demo_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.sqlite'}"
    run_demo(load_config(), db_url=url, reset=False, night=NIGHT, files_dir=str(tmp_path / "f"))
    return url


def _read(fd, buf: bytearray, until: bytes | None, deadline: float) -> None:
    while time.monotonic() < deadline and (until is None or until not in buf):
        r, _, _ = select.select([fd], [], [], 0.5)
        if not r:
            if until is None:
                return
            continue
        try:
            chunk = os.read(fd, 65536)
        except OSError:  # the child closed the terminal
            return
        if not chunk:
            return
        buf.extend(chunk)


def _watch(args: list[str], env_home) -> tuple[int, str, str]:
    """Run mopstool on a pseudo-terminal until its second refresh, then SIGINT."""
    master, slave = os.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 60, 240, 0, 0))
    env = dict(os.environ, TERM="xterm-256color", HOME=str(env_home))
    # Ctrl-C as at a terminal, also when the suite itself runs with SIGINT ignored (a background job)
    proc = subprocess.Popen([sys.executable, "-m", "mopstool", *args], stdin=slave, stdout=slave,
                            stderr=subprocess.PIPE, env=env, close_fds=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    os.close(slave)
    buf = bytearray()
    try:
        _read(master, buf, b"refresh 2 at", time.monotonic() + 120)
        assert b"refresh 2 at" in buf, bytes(buf[-2000:])
        proc.send_signal(signal.SIGINT)
        end = time.monotonic() + 60
        while proc.poll() is None and time.monotonic() < end:
            _read(master, buf, None, end)
        code = proc.wait(timeout=30)
        err = proc.stderr.read().decode()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        os.close(master)
    return code, ANSI.sub("", buf.decode("utf-8", "replace")), err


def test_czar_watch_refreshes_and_stops_on_ctrl_c(demo_url, tmp_path):
    code, out, err = _watch(["czar", "--db", demo_url, "--night", "2018-07-10", "--watch", "--every", "1s"],
                            tmp_path)
    assert code == 130
    assert err.splitlines() in INTERRUPT_LINES
    assert "refresh 1 at" in out and "refresh 2 at" in out and "every 1s" in out
    assert "11 problems" in out and "14/15 1f" in out
    # each ready chunk announced once (not again at the second refresh), with the bell
    line = "OSS chunk OSSR.R20S1.12.Q.w is ready for its desperate diffs"
    assert out.count(line) == 1 and out.count("\a") == 3
    assert f"mopstool --db {demo_url} diffpairs --define --desperate --night 2018-07-10" in out


def test_night_watch_refreshes_and_stops_on_ctrl_c(demo_url, tmp_path):
    code, out, err = _watch(["night", "--db", demo_url, "--night", "2018-07-10", "--target", "EU",
                             "--watch", "--every", "0.5s"], tmp_path)
    assert code == 130 and err.splitlines() in INTERRUPT_LINES
    assert "mopstool night 2018-07-10  refresh 2 at" in out
    assert "o8309g0070o" in out and "fault 2 XY23" in out and "lost visits: EU.R01N1.001 v1 faulted" in out
    assert "ready for its desperate diffs" not in out  # EU's chunk waits for its faulted visit


def test_watch_refuses_without_a_terminal(cli, demo_url):
    for cmd in ("czar", "night"):
        r = cli(cmd, "--db", demo_url, "--night", "2018-07-10", "--watch", "--every", "1s")
        assert r.code == 2 and r.out == "" and r.err.strip() == \
            "mopstool: error: --watch needs a terminal on stdout; run without --watch in scripts and cron"
    r = cli("czar", "--db", demo_url, "--night", "2018-07-10", "--every", "1s")
    assert r.code == 2 and "--every needs --watch" in r.err


def test_parse_every():
    assert parse_every("5m") == 300 and parse_every("30s") == 30 and parse_every("1h") == 3600
    assert parse_every("2.5") == 2.5 and parse_every(None) == 300 and parse_every("10 min") == 600
    for bad in ("0", "-1m", "soon", "5d", ""):
        with pytest.raises(UsageError, match="--every"):
            parse_every(bad)


def test_ready_events_announce_transitions_only():
    ev = ready_events(lambda c: c.replace("mopstool ", "mopstool --db X ", 1))
    a = {"target": "OSS", "chunk": "C1", "pairs": ["O1 2-3"]}
    b = {"target": "MSS", "chunk": "C 2", "pairs": ["M1 3-4"]}
    first = ev(None, {"night": "2018-07-10", "desperate_ready": [a]})
    assert first == ["OSS chunk C1 is ready for its desperate diffs (O1 2-3): mopstool --db X diffpairs "
                     "--define --desperate --night 2018-07-10 --chunk C1"]
    prev = {"night": "2018-07-10", "desperate_ready": [a]}
    assert ev(prev, prev) == []
    (line,) = ev(prev, {"night": "2018-07-10", "desperate_ready": [a, b]})
    assert line.startswith("MSS chunk C 2 is ready") and line.endswith("--chunk 'C 2'")


def test_watch_survives_an_unreachable_database_and_stops_on_interrupt(capsys):
    from rich.text import Text

    from mopstool.cli.watch import watch
    from mopstool.errors import ConfigError, ExitCode, MopsError, Unreachable

    calls = iter([Unreachable("database unreachable: gone for a moment"), {"n": 1}, {"n": 2},
                  KeyboardInterrupt()])
    seen = []

    def fetch():
        item = next(calls)
        if isinstance(item, BaseException):
            raise item
        return item

    def view(data, previous, header):
        seen.append((data["n"], previous and previous["n"]))
        return Text(header)

    with pytest.raises(MopsError) as exc:
        watch(fetch, view, every=0, events=lambda prev, data: [f"event {data['n']}"], title="t")
    assert exc.value.code == ExitCode.INTERRUPTED and exc.value.message == "interrupted"
    assert seen == [(1, None), (2, 1)]
    out = " ".join(capsys.readouterr().out.split())
    assert "refresh 1 at" in out and "failed: database unreachable: gone for a moment" in out
    assert "event 1" in out and "event 2" in out
    # any other error ends the watch with its own exit code
    def broken():
        raise ConfigError("bad config")
    with pytest.raises(ConfigError):
        watch(broken, view, every=0, title="t")


def test_views_highlight_what_changed():
    from rich.console import Console

    from mopstool.cli.report import _czar_view, _night_view
    from mopstool.cli.watch import CHANGED

    def cells(group):
        table = group.renderables[1]
        return [[c for c in col._cells] for col in table.columns]

    def stage(status, text):
        return {"status": status, "text": text, "fix": None}

    def row(warp):
        return {"exp_name": "o1", "target": "OSS", "object": "F1", "visit": 1, "fwhm": 4.5,
                "visit_status": "ok", "stages": {"chip": stage("done", "full"), "cam": stage("done", "full"),
                                                 "warp": warp, "ww_diff": stage("none", ""),
                                                 "ws_diff": stage("none", ""), "publish": stage("none", "")}}
    before = {"night": "2018-07-10", "exposures": [row(stage("faulted", "new: fault 2 s1"))], "lost_visits": []}
    after = {"night": "2018-07-10", "exposures": [row(stage("done", "full"))], "lost_visits": []}
    first = cells(_night_view(before, None, "h"))
    assert all(c.style != CHANGED for col in first for c in col)
    second = cells(_night_view(after, before, "h"))
    changed = [col[0].plain for col in second if col[0].style == CHANGED]
    assert changed == ["full"]  # the warp cell only
    Console(file=open(os.devnull, "w"), width=200).print(_night_view(after, before, "h"))

    counts = {"total": 4, "done": 3, "pending": 0, "faulted": 1, "bad_quality": 0}
    p1 = {"kind": "fault", "stage": "warp", "id": 7, "component": "s1", "night": "2018-07-10",
          "target": "OSS", "meaning": "m", "fix": "mopstool revert warp --id 7"}
    p2 = dict(p1, id=8, fix="mopstool revert warp --id 8")
    old = {"night": "2018-07-10", "targets": [{"target": "OSS", "stages": {"warp": counts}}], "problems": [p1]}
    new = {"night": "2018-07-10", "targets": [{"target": "OSS", "stages": {"warp": dict(counts, done=4,
                                                                                          faulted=0)}}],
           "problems": [p2]}
    from mopstool.ops.nightly.czar import group_problems

    old["groups"] = group_problems([dict(p1, person=None)])
    new["groups"] = group_problems([dict(p2, person=None)])
    view = _czar_view(new, old, "h")
    summary, problems = view.renderables[1], view.renderables[2]
    assert summary.columns[1]._cells[0].style == CHANGED
    new_group = [sp for sp in problems.spans if sp.style == CHANGED]  # the group of problem 8 is new
    assert len(new_group) == 1 and "revert warp --id 8" in problems.plain[new_group[0].start:new_group[0].end]
    assert view.renderables[3].plain == "1 problem cleared since the last refresh"
