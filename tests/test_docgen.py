"""Man pages and shell completions generated from the command tree.

The committed man/ and completions/ files must equal freshly generated ones
(run `mopstool docs generate` after changing commands), every option that
`--help` shows must be in the command's man page, the pages must render, and
the completion scripts must load and complete subcommands and options.
"""

from __future__ import annotations

import enum
import re
import shutil
import subprocess
from pathlib import Path
from typing import Annotated, Literal, Optional

import pytest
import typer

from mopstool.cli import docgen
from mopstool.cli.main import root_command
from mopstool.errors import EXIT_CODE_MEANINGS, ExitCode

REPO = Path(__file__).resolve().parents[1]
OPTION_TOKEN = re.compile(r"(?<![\w-])(--?[A-Za-z0-9][\w-]*)")


# ---------------------------------------------------------------- helpers
def roff_to_text(roff: str) -> str:
    """Undo the escapes docgen writes, enough to compare words."""
    text = re.sub(r"\\f[BIRP]", "", roff)
    return text.replace("\\-", "-").replace("\\&", "").replace("\\e", "\\")


def man_tags(roff: str) -> set[str]:
    """Option strings in the tag lines (the line after .TP) of a page."""
    lines = roff.splitlines()
    found: set[str] = set()
    for i, line in enumerate(lines[:-1]):
        if line == ".TP":
            found.update(OPTION_TOKEN.findall(roff_to_text(lines[i + 1])))
    return found


def help_sections(text: str) -> dict[str, list[str]]:
    sections: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.rstrip().endswith(":"):
            current = line.rstrip()[:-1]
            sections[current] = []
        elif line and not line[0].isspace():
            current = None
        elif current is not None:
            sections[current].append(line)
    return sections


def help_options(text: str) -> set[str]:
    """Option strings of the Options section of --help output."""
    opts: set[str] = set()
    for line in help_sections(text).get("Options", []):
        if re.match(r"^ {1,4}-", line):
            term = re.split(r"\s{2,}", line.strip())[0]
            opts.update(OPTION_TOKEN.findall(term))
    return opts


def help_commands(text: str) -> list[str]:
    """Command names of every command section (the root groups them: "Morning check:", ...)."""
    return [line.split()[0] for name, lines in help_sections(text).items()
            if name not in ("Options", "Arguments") and not name.startswith("Usage")
            for line in lines if re.match(r"^ {1,4}\S", line)]


def _help_text(path: tuple[str, ...]) -> str:
    """`mopstool <path> --help` run in-process."""
    import contextlib
    import io

    from mopstool.cli.main import main

    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            main([*path, "--help"])
        except SystemExit as exc:
            assert not exc.code, (path, err.getvalue())
    return out.getvalue()


@pytest.fixture(scope="module")
def all_help():
    """{command path: --help text} of every command, found by following --help alone."""
    tree: dict[tuple[str, ...], str] = {}
    todo: list[tuple[str, ...]] = [()]
    while todo:
        path = todo.pop(0)
        tree[path] = _help_text(path)
        todo += [path + (name,) for name in help_commands(tree[path])]
    return tree


def page_name(path: tuple[str, ...]) -> str:
    return "-".join(("mopstool",) + path) + ".1"


@pytest.fixture(scope="module")
def tree():
    return docgen.command_tree(root_command())


@pytest.fixture(scope="module")
def pages(tree):
    return docgen.man_pages(tree)


@pytest.fixture(scope="module")
def scripts(tree):
    return docgen.completion_scripts(tree)


# ---------------------------------------------------------------- staleness and stability
def test_generation_is_deterministic_and_has_no_local_paths(tmp_path, monkeypatch):
    first = docgen.generated_files(root_command())
    monkeypatch.setenv("HOME", str(tmp_path / "elsewhere"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "cfg"))
    second = docgen.generated_files(root_command())
    assert first == second
    for name, text in first.items():
        assert str(tmp_path) not in text, name
        if name.endswith(".1"):
            th = text.splitlines()[0]
            assert re.fullmatch(r'\.TH "[A-Z0-9-]+" "1" "" "mopstool" "mopstool manual"', th), th


def test_committed_man_pages_and_completions_are_current():
    files = docgen.generated_files(root_command())
    res = docgen.sync_files(REPO, files, check=True)
    assert res.stale == [], ("stale generated files (run 'mopstool docs generate' in the "
                             f"project root): {res.stale}")


# ---------------------------------------------------------------- man pages
def test_every_help_option_is_in_the_command_man_page(all_help, pages):
    assert len(all_help) > 5
    assert set(pages) == {page_name(p) for p in all_help}
    for path, text in all_help.items():
        shown = help_options(text)
        assert "--help" in shown, path
        missing = shown - man_tags(pages[page_name(path)])
        assert not missing, f"{page_name(path)} lacks {sorted(missing)}"


def test_help_option_parser_sees_what_it_should(all_help):
    # guard against a parser that silently finds nothing
    assert {"-l", "--label", "--limit", "-f", "--format", "--json", "-h", "--help"} <= help_options(all_help[("runs",)])
    assert {"--db", "--pstamp-db", "--dbname", "--config", "--debug", "--version"} <= help_options(all_help[()])
    top = help_commands(all_help[()])
    assert {"czar", "runs", "cleanup", "chiptool", "db", "config"} <= set(top)
    assert "docs" not in top                       # hidden from operators, still runs


def test_dropped_option_is_detected(pages):
    page = pages["mopstool-runs.1"]
    broken = page.replace("\\fB\\-\\-limit\\fR", "\\fB\\-\\-lmt\\fR")
    assert "--limit" in man_tags(page) and "--limit" not in man_tags(broken)


def test_main_page_sections_exit_codes_and_environment(pages):
    page = pages["mopstool.1"]
    for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "COMMANDS", "CONFIGURATION",
                    "ENVIRONMENT", "FILES", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
        assert f".SH {section}\n" in page, section
    text = roff_to_text(page)
    exit_part = text.split(".SH EXIT STATUS", 1)[1].split(".SH ", 1)[0]
    for code, meaning in EXIT_CODE_MEANINGS.items():
        assert f".TP\n{int(code)}\n{meaning}\n" in exit_part
    for var in ("MOPSTOOL_DB", "MOPSTOOL_PSTAMP_DB", "MOPSTOOL_DBNAME", "MOPSTOOL_CONFIG",
                "MOPSTOOL_FORMAT", "MOPSTOOL_DEBUG", "MOPSTOOL_<SECTION>__<KEY>", "IPPRC"):
        assert f".TP\n{var}\n" in text, var
    assert "/etc/xdg/mopstool/config.toml" in text and "$XDG_CONFIG_HOME/mopstool/config.toml" in text
    for cmd in ("runs", "db check", "config show", "pstamp-req backlog"):
        assert f".TP\n{cmd}" in text and "mopstool-" + cmd.replace(" ", "-") + "(1)" in text


def test_subcommand_pages_have_options_exit_codes_examples(pages):
    for name, page in pages.items():
        if name == "mopstool.1":
            continue
        for section in ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO"):
            assert f".SH {section}\n" in page, (name, section)
        assert f"\n.TP\n\\fB{int(ExitCode.TEMPFAIL)}\\fR\n" in page
    runs = roff_to_text(pages["mopstool-runs.1"])
    assert "[default: 500]" in runs
    assert "$ mopstool runs chip --night 2018-07-10" in runs          # an example that runs on the demo
    assert "[OPTIONS]" not in runs.split("EXAMPLES", 1)[1].split("SEE ALSO", 1)[0]
    assert ".SS Global options" in runs and "--pstamp-db" in runs
    assert "mopstool-docs.1" not in pages and "mopstool-docs-generate.1" not in pages  # hidden


def test_docstring_examples_go_to_the_examples_section():
    from mopstool.cli.docgen.command import docs_app

    group = typer.main.get_group(docs_app)
    gen = roff_to_text(docgen.man_pages(group, global_option_names=[])["mopstool-generate.1"])
    examples = gen.split(".SH EXAMPLES", 1)[1]
    assert "$ mopstool docs generate\n$ mopstool docs generate --check\n" in examples
    assert "$ mopstool docs generate" not in gen.split(".SH EXAMPLES", 1)[0]


def test_split_examples():
    desc, ex = docgen.split_examples("Do things.\n\nMore text.\n\nExamples:\n\n\b\n"
                                     "$ mopstool x --a\nexplained\n$ mopstool x --b")
    assert desc == "Do things.\n\nMore text."
    assert ex == [("cmd", "mopstool x --a"), ("text", "explained"), ("cmd", "mopstool x --b")]
    desc, ex = docgen.split_examples("Do things.\nExample: mopstool y 1")
    assert desc == "Do things." and ex == [("cmd", "mopstool y 1")]
    assert docgen.split_examples("Nothing to see.") == ("Nothing to see.", [])


def test_roff_escaping():
    assert docgen.esc("--db") == "\\-\\-db"
    assert docgen.esc(".hidden\n'quote") == "\\&.hidden\n\\&'quote"
    assert docgen.esc("a\\b") == "a\\eb"
    assert docgen.esc("MJD \u2212 50000") == "MJD \\[u2212] 50000"


def _render(cmd: list[str], path: Path, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(cmd + [str(path)], capture_output=True, text=True, env=env, timeout=60)


def test_man_pages_render(tmp_path, pages):
    groff, man = shutil.which("groff"), shutil.which("man")
    if not groff and not man:
        pytest.skip("neither groff nor man is installed")
    for name, text in pages.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    if groff:
        for name in pages:
            r = _render([groff, "-man", "-Tutf8", "-ww", "-P-cbou"], tmp_path / name)
            assert r.returncode == 0 and r.stderr == "", (name, r.stderr)
            assert "EXIT STATUS" in r.stdout
        out = _render([groff, "-man", "-Tutf8", "-P-cbou"], tmp_path / "mopstool-runs.1").stdout
        assert "-l, --label LABEL" in out       # plain ASCII hyphens, copy-pastable
    if man:
        import os

        env = dict(os.environ, MANPAGER="cat", PAGER="cat", MANWIDTH="80")
        for page in (tmp_path / "mopstool.1", REPO / "man" / "man1" / "mopstool.1"):
            r = _render([man, "-l"], page, env=env)
            assert r.returncode == 0, r.stderr
            assert "EXIT STATUS" in r.stdout and "MOPSTOOL_PSTAMP_DB" in r.stdout


# ---------------------------------------------------------------- completions
def _bash_completions(script: Path, lines: list[list[str]]) -> list[list[str]]:
    """Run the completion function on each command line (last word = the one completed)."""
    prog = [f"source {script}", "complete -p mopstool"]
    for words in lines:
        quoted = " ".join("'" + w.replace("'", "'\\''") + "'" for w in words)
        prog.append(f"COMP_WORDS=({quoted}); COMP_CWORD={len(words) - 1}; COMPREPLY=(); _mopstool; "
                    "echo \"@@ ${COMPREPLY[*]}\"")
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c", "\n".join(prog)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stderr == ""
    out = r.stdout.splitlines()
    assert out[0] == "complete -F _mopstool mopstool"
    results = [ln[3:].split() for ln in out if ln.startswith("@@ ")]
    assert len(results) == len(lines)
    return results


@pytest.mark.skipif(not shutil.which("bash"), reason="bash not installed")
def test_bash_completion_offers_subcommands_and_options(tmp_path, scripts, all_help):
    script = tmp_path / "mopstool.bash"
    script.write_text(scripts["mopstool.bash"])
    top = help_commands(all_help[()])
    db = help_commands(all_help[("db",)])
    groups = [p for p, t in all_help.items() if help_commands(t)]
    lines = [["mopstool", ""], ["mopstool", "d"], ["mopstool", "db", ""],
             ["mopstool", "--db", "sqlite:///x.sqlite", "d"], ["mopstool", "runs", "chip", "--l"],
             ["mopstool", "--config", "c.toml", "--debug", "db", "c"]]
    lines += [["mopstool", *p, "-"] for p in all_help]
    lines += [["mopstool", *p, ""] for p in groups]
    got = _bash_completions(script, lines)
    assert got[0] == top
    assert got[1] == [c for c in top if c.startswith("d")] and "db" in got[1]
    assert got[2] == db
    assert got[3] == got[1]
    assert got[4] == ["--label", "--limit", "--log-file"]
    assert got[5] == [c for c in db if c.startswith("c")]
    for path, res in zip(all_help, got[6:6 + len(all_help)]):
        missing = help_options(all_help[path]) - set(res)
        assert not missing, (path, missing)
        if path:  # root options that may follow the subcommand
            assert {"--db", "--pstamp-db", "--config", "--debug"} <= set(res), path
    for path, res in zip(groups, got[6 + len(all_help):]):
        assert res == help_commands(all_help[path]), path


@pytest.mark.skipif(not shutil.which("bash"), reason="bash not installed")
def test_committed_bash_completion_loads():
    r = subprocess.run(["bash", "--norc", "--noprofile", "-c",
                        f"source {REPO / 'completions' / 'mopstool.bash'} && complete -p mopstool"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "complete -F _mopstool mopstool", r.stderr


@pytest.mark.skipif(not shutil.which("zsh"), reason="zsh not installed")
def test_zsh_completion_loads(tmp_path, scripts):
    (tmp_path / "_mopstool").write_text(scripts["_mopstool"])
    assert subprocess.run(["zsh", "-n", str(tmp_path / "_mopstool")], timeout=60).returncode == 0
    r = subprocess.run(["zsh", "-f", "-c", f"fpath=({tmp_path} $fpath); autoload -Uz compinit; "
                        "compinit -u -D; print -r -- $_comps[mopstool]"],
                       capture_output=True, text=True, timeout=60)
    assert r.stdout.strip() == "_mopstool", r.stderr


@pytest.mark.skipif(not shutil.which("fish"), reason="fish not installed")
def test_fish_completion_offers_subcommands_and_options(tmp_path, scripts, all_help):
    script = tmp_path / "mopstool.fish"
    script.write_text(scripts["mopstool.fish"])
    cmds = "; ".join(f"echo @@; complete -C {c!r}" for c in
                     ("mopstool ", "mopstool db ", "mopstool --db x runs chip --l", "mopstool runs --d"))
    r = subprocess.run(["fish", "--no-config", "-c", f"source {script}; {cmds}"],
                       capture_output=True, text=True, timeout=60,
                       env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    blocks = [[ln.split("\t")[0] for ln in b.strip().splitlines()] for b in r.stdout.split("@@")[1:]]
    assert sorted(blocks[0]) == sorted(help_commands(all_help[()]))
    assert sorted(blocks[1]) == sorted(help_commands(all_help[("db",)]))
    assert blocks[2] == ["--label", "--limit", "--log-file"]
    assert {"--data-group", "--db", "--dbname", "--debug", "--dist-group"} <= set(blocks[3])


# ---------------------------------------------------------------- the walker on a made-up app
class Color(str, enum.Enum):
    red = "red"
    blue = "blue"


def _toy_app() -> typer.Typer:
    toy = typer.Typer(name="mopstool", help="Toy.", context_settings={"help_option_names": ["-h", "--help"]})

    @toy.callback()
    def root(db: Annotated[Optional[str], typer.Option("--db", help="URL.")] = None) -> None:
        """Toy."""

    grp = typer.Typer(help="A group.")

    @grp.command("paint")
    def paint(
        target: Annotated[Path, typer.Argument(help="What to paint.")],
        color: Annotated[Color, typer.Option("--color", "-c", help="Which color.")] = Color.red,
        mode: Annotated[Literal["fast", "slow"], typer.Option("--mode", help="Speed.")] = "fast",
        tag: Annotated[Optional[list[str]], typer.Option("--tag", help="Tag; repeatable.")] = None,
        shiny: Annotated[bool, typer.Option("--shiny/--matte", help="Finish.")] = False,
        secret: Annotated[bool, typer.Option("--secret", hidden=True)] = False,
    ) -> None:
        """Paint one thing.

        $ mopstool art paint wall.txt --color blue
        """

    toy.add_typer(grp, name="art")
    return toy


def test_walker_handles_choices_paths_flags_and_hidden(tmp_path):
    toy = _toy_app()
    pages = docgen.man_pages(toy, global_option_names=["--db"])
    assert set(pages) == {"mopstool.1", "mopstool-art.1", "mopstool-art-paint.1"}
    paint = pages["mopstool-art-paint.1"]
    assert man_tags(paint) >= {"--color", "-c", "--mode", "--tag", "--shiny", "--matte", "-h", "--help", "--db"}
    assert "\\-\\-secret" not in paint
    text = roff_to_text(paint)
    assert "[default: red]" in text and "<red|blue>" in text and "<fast|slow>" in text
    assert "$ mopstool art paint wall.txt --color blue" in text
    scripts = docgen.completion_scripts(toy, global_option_names=["--db"])
    script = tmp_path / "toy.bash"
    script.write_text(scripts["mopstool.bash"])
    got = _bash_completions(script, [["mopstool", "art", "paint", "--color", ""],
                                     ["mopstool", "art", "paint", "--mode", "=", ""],
                                     ["mopstool", "art", "paint", "--mode=s"],
                                     ["mopstool", "art", "paint", "--s"],
                                     ["mopstool", "--db", "x", "art", "paint", "-c", "red", "--matte", "--t"],
                                     ["mopstool", ""]])
    assert got == [["red", "blue"], ["fast", "slow"], ["--mode=slow"], ["--shiny"], ["--tag"], ["art"]]


# ---------------------------------------------------------------- the docs command
def test_docs_generate_and_check(cli, tmp_path):
    r = cli("docs", "generate", "--check", "--out", str(tmp_path))
    assert r.code == ExitCode.CHECK_FAILED
    assert "stale: man/man1/mopstool.1" in r.err and "stale: completions/mopstool.bash" in r.err
    assert not (tmp_path / "man").exists()            # --check writes nothing
    r = cli("docs", "generate", "--out", str(tmp_path))
    assert r.code == 0, r.err
    assert r.out == ""
    names = sorted(p.name for p in (tmp_path / "man" / "man1").iterdir())
    assert "mopstool.1" in names and "mopstool-czar.1" in names
    assert "mopstool-docs-generate.1" not in names    # docs is hidden: no page
    assert sorted(p.name for p in (tmp_path / "completions").iterdir()) == \
        ["_mopstool", "mopstool.bash", "mopstool.fish"]
    assert cli("docs", "generate", "--check", "--out", str(tmp_path)).code == 0
    page = tmp_path / "man" / "man1" / "mopstool-runs.1"
    page.write_text(page.read_text().replace("\\-\\-limit", "\\-\\-lmt"))
    (tmp_path / "man" / "man1" / "mopstool-gone.1").write_text(".TH GONE 1\n")
    r = cli("docs", "generate", "--check", "--out", str(tmp_path))
    assert r.code == ExitCode.CHECK_FAILED
    assert "stale: man/man1/mopstool-runs.1" in r.err and "man/man1/mopstool-gone.1" in r.err
    # a check result (exit 3), not an error
    assert r.err.strip().splitlines()[-1].startswith("mopstool: 2 generated files are stale")
    assert "error:" not in r.err
    r = cli("docs", "generate", "--out", str(tmp_path))
    assert r.code == 0 and not (tmp_path / "man" / "man1" / "mopstool-gone.1").exists()
    assert "\\-\\-limit" in page.read_text()
    assert cli("docs", "generate", "--check", "--out", str(tmp_path)).code == 0
