"""docs/conventions.md's table of option names agrees with every command's options."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parent.parent / "docs" / "conventions.md"


def _options() -> dict[str, list[tuple[str, tuple[str, ...], str]]]:
    """Every visible option of every command: name -> [(command, spellings, metavar)]."""
    from mopstool.cli.main import root_command

    root = root_command()
    out: dict[str, list] = {}

    def walk(cmd, path, ctx):
        if hasattr(cmd, "list_commands"):
            for name in cmd.list_commands(ctx):
                sub = cmd.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    walk(sub, path + [name], type(ctx)(sub, parent=ctx))
        for p in cmd.params:
            if p.param_type_name != "option" or p.hidden:
                continue
            names = tuple(p.opts) + tuple(p.secondary_opts)
            record = p.get_help_record(ctx)
            term = record[0] if record else ""
            shown = term.split(" ", 1)[1] if " " in term.split(", ")[-1] else ""
            shown = term.rsplit(" ", 1)[1] if shown else ""
            for n in names:
                out.setdefault(n, []).append((" ".join(path), names, shown))

    walk(root, [], type(root.make_context("mopstool", [], resilient_parsing=True))(root))
    return out


def _table() -> dict[str, str]:
    text = DOC.read_text()
    section = text.split("## Option names", 1)[1].split("Not yet following", 1)[0]
    names: dict[str, str] = {}
    for line in section.splitlines():
        if not line.startswith("| ") or line.startswith("| concept") or line.startswith("|---"):
            continue
        cells = [c.strip() for c in line.strip("|").split("|")]
        for opt in re.findall(r"`(-[-\w]+)`", cells[1]):
            names[opt] = cells[2].strip("`")
    return names


def _not_yet() -> str:
    return DOC.read_text().split("Not yet following", 1)[1]


def test_table_names_are_the_spellings_commands_show():
    table = _table()
    opts = _options()
    assert table and opts
    # every option the table names exists in some command (no stale rows) ...
    missing = [n for n in table if n not in opts and not n.startswith("--set-")]
    assert not missing, missing
    # ... and the spellings of one concept appear together (a short form is never
    # used for another long name)
    for name in table:
        for command, names, _ in opts.get(name, []):
            for other in names:
                if other.startswith("-") and not other.startswith("--"):
                    uses = {n for _, ns, _ in opts[other] for n in ns if n.startswith("--")}
                    assert len(uses) == 1 or other == "-o", (other, uses)


def test_deviations_listed_are_exactly_the_ones_left():
    """The 'not yet' list names each command option that still differs, and
    nothing that has been fixed (so a fix updates the list)."""
    opts = _options()
    found = set()
    for command, names, _ in opts.get("-o", []):
        if "--outdir" in names:
            found.add(f"{command} -o/--outdir")
    for command, _, _ in opts.get("--date", []):
        found.add(f"{command} --date")
    for command, _, _ in opts.get("--req-id", []):
        found.add(f"{command} --req-id")
    for command, _, _ in opts.get("--status", []):
        if command != "diffpairs":
            found.add(f"{command} --status")
    for command, _, _ in opts.get("--out", []):
        found.add(f"{command} --out")
    text = _not_yet()
    for item in sorted(found):
        assert f"`{item}`" in text, f"{item} differs from the table but is not listed"
    listed = re.findall(r"`([a-z][\w-]*(?: [a-z][\w-]*)?) (-[-\w/]+)", text)
    for command, opt in listed:
        first = opt.split("/")[0]
        assert any(c == command for c, _, _ in opts.get(first, [])), \
            f"{command} {opt} is listed as not yet renamed but no longer exists: remove it"


def test_one_spelling_per_concept_for_the_shared_options():
    opts = _options()
    # dates are --night everywhere a night is meant; no --day/--nite/--date-of spellings
    for bad in ("--day", "--nite", "--night-date", "--run-id", "--ids", "--out-dir", "--output-dir"):
        assert bad not in opts, (bad, opts.get(bad))
    # -o is a file (--output) everywhere except the listed directory option
    for command, names, _ in opts.get("-o", []):
        assert "--output" in names or f"{command} -o/--outdir" in _not_yet(), (command, names)
    # --target is spelled with -t wherever the czar's family has it
    for command, names, _ in opts.get("--target", []):
        assert names[0] == "--target"


@pytest.mark.parametrize("argv,named", [
    (["cleanup", "--status", "--target", "OSS"], "--target"),
    (["cleanup", "--target", "OSS", "status"], "--target"),
    (["cleanup", "--batch-size", "5", "status"], "--batch-size"),
    (["fixbroken", "--status", "--dry-run"], "--dry-run"),
    (["fixbroken", "--finish", "--open"], "--open"),
    (["fixbroken", "--chip-id", "5", "status"], "--chip-id"),
    (["fixbroken", "--limit", "3"], "--limit"),
])
def test_an_option_a_mode_does_not_use_is_refused_by_name(cli, demo_db_url, argv, named):
    r = cli("--db", demo_db_url, *argv)
    assert r.code == 2, r.err
    assert r.err.splitlines() == [f"mopstool: error: {named}: not used by "
                                  f"{r.err.split('not used by ', 1)[1].split(';')[0]}; leave it out"]
    assert named in r.err and r.out == ""


def test_fixbroken_modes_are_subcommands_and_old_flags_still_work(cli, demo_db_url):
    new = cli("--db", demo_db_url, "fixbroken", "status", "--json")
    old = cli("--db", demo_db_url, "fixbroken", "--status", "--json")
    assert new.code == old.code == 0, (new.err, old.err)
    assert new.json() == old.json()
    new = cli("--db", demo_db_url, "fixbroken", "finish", "--dry-run", "--json")
    old = cli("--db", demo_db_url, "fixbroken", "--finish", "--dry-run", "--json")
    assert new.code == old.code == 0 and new.json() == old.json()
    help_ = cli("fixbroken", "--help").out
    assert "status" in help_ and "finish" in help_
    assert "--status" not in help_ and "--finish" not in help_      # hidden aliases
    plan = cli("--db", demo_db_url, "fixbroken", "--dry-run", "--json")
    assert plan.code == 0 and plan.json(), plan.err


def test_date_and_age_options_show_the_table_placeholders():
    opts = _options()
    want = {"--night": "YYYY-MM-DD", "--since": "DATE|AGE", "--older-than": "AGE",
            "--columns": "FIELDS", "--limit": "N"}
    for name, value in want.items():
        assert opts.get(name), name
        for command, _, shown in opts[name]:
            assert shown == value, (command, name, shown)


def test_renamed_options_keep_their_old_spelling_hidden(cli, demo_db_url):
    """Each rename of the table below 'Not yet following' still accepts the old
    spelling (same result) and shows only the new one in --help."""
    db = ("--db", demo_db_url)
    new = cli(*db, "cleanup", "status", "--as-of", "2018-07-11", "--json")
    old = cli(*db, "cleanup", "--status", "--as-of", "2018-07-11", "--json")
    assert new.code == old.code == 0, (new.err, old.err)
    assert new.json() == old.json()
    new = cli(*db, "definebyquery", "--preset", "wfix", "--label-date", "20180525", "--night", "2018-07-10",
              "--filter", "w%", "--dry-run", "--json")
    old = cli(*db, "definebyquery", "--preset", "wfix", "--date", "20180525", "--night", "2018-07-10",
              "--filter", "w%", "--dry-run", "--json")
    assert new.code == old.code == 0, (new.err, old.err)
    assert new.json() == old.json() and "20180525" in new.out
    both = cli(*db, "definebyquery", "--preset", "wfix", "--label-date", "20180525", "--date", "20180526",
               "--night", "2018-07-10", "--dry-run")
    assert both.code == 2 and "--label-date" in both.err
    new = cli(*db, "fixbroken", "--label-date", "2018-07-11", "--dry-run", "--json")
    old = cli(*db, "fixbroken", "--date", "2018-07-11", "--dry-run", "--json")
    assert new.code == old.code == 0 and new.json() == old.json()
    new = cli(*db, "pstamp-req", "list", "--id", "400040", "--json")
    old = cli(*db, "pstamp-req", "list", "--req-id", "400040", "--json")
    assert new.code == old.code == 0 and new.json() == old.json()
    for command, gone, shown in (("cleanup", "--status", "status"), ("definebyquery", "--date", "--label-date"),
                                 ("fixbroken", "--date", "--label-date"),
                                 ("pstamp-req cut", "-o,", "--outdir"),
                                 ("pstamp-req list", "--req-id", "--id"),
                                 ("pstamp-req update", "--req-id", "--id"),
                                 ("pstamp-req revert", "--req-id", "--id")):
        help_ = cli(*command.split(), "--help").out
        assert shown in help_ and f"{gone} " not in help_, (command, gone)


def test_cut_takes_the_old_directory_option(cli, tmp_path):
    import numpy as np
    from astropy.io import fits

    img = tmp_path / "img.fits"
    fits.PrimaryHDU(np.zeros((50, 50), dtype="float32")).writeto(img)
    for opt, d in (("--outdir", "new"), ("-o", "old")):
        r = cli("pstamp-req", "cut", str(img), "--x", "20", "--y", "20", "--size", "10", opt,
                str(tmp_path / d), "--json")
        assert r.code == 0, r.err
        assert [p.name for p in (tmp_path / d).iterdir()], d
