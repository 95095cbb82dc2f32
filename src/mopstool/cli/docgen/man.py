"""Man pages (roff) from the command tree: mopstool.1 and one page per command."""

from __future__ import annotations

from typing import Iterable, Optional

from mopstool.cli.docgen.tree import (MANUAL, PROG, CommandDoc, ParamDoc, _clean_help, _first_sentence,
                                          _global_option_names, _global_params, _paragraphs, as_tree,
                                          split_examples)


# ====================================================================== roff
def esc(text: str) -> str:
    """Escape text for a roff text line (backslashes, hyphens, leading control chars).

    Characters outside ASCII become groff's \\[uXXXX] so the pages render the
    same whatever the input encoding groff or man assume."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    text = "".join(c if ord(c) < 128 else f"\\[u{ord(c):04X}]" for c in text)
    out = []
    for line in text.split("\n"):
        if line.startswith((".", "'")):
            line = "\\&" + line
        out.append(line)
    return "\n".join(out)


def _b(text: str) -> str:
    return f"\\fB{esc(text)}\\fR"


def _i(text: str) -> str:
    return f"\\fI{esc(text)}\\fR"


def _roff_blocks(text: str, first: bool = True) -> list[str]:
    out: list[str] = []
    for n, (kind, lines) in enumerate(_paragraphs(text)):
        if n or not first:
            out.append(".PP")
        if kind == "pre":
            out += [".nf", esc("\n".join(lines)), ".fi"]
        else:
            out.append(esc(lines[0]))
    return out


def _th(page: str) -> list[str]:
    return [f'.TH "{page.upper()}" "1" "" "{PROG}" "{MANUAL}"', ".nh", ".ad l"]


def _option_tag(p: ParamDoc) -> str:
    if p.kind == "argument":
        tag = _i(p.name)
        return tag + (" " + esc(p.value) if p.value else "")

    def one(opts: list[str]) -> str:
        s = ", ".join(_b(o) for o in opts)
        if p.value:
            s += " " + _i(p.value)
        return s

    parts = [one(p.opts)] if p.opts else []
    if p.secondary_opts:
        parts.append(one(p.secondary_opts))
    return " / ".join(parts)


def _param_items(params: list[ParamDoc]) -> list[str]:
    out: list[str] = []
    for p in params:
        out += [".TP", _option_tag(p)]
        out.append(esc(p.help) if p.help else "")
        if not p.help:
            out.pop()
    return out


def _exit_status() -> list[str]:
    from mopstool.errors import EXIT_CODE_MEANINGS

    out = [".SH EXIT STATUS"]
    for code in sorted(EXIT_CODE_MEANINGS):
        out += [".TP", _b(str(int(code))), esc(EXIT_CODE_MEANINGS[code])]
    return out


def _synopsis(cmd: CommandDoc) -> list[str]:
    pieces = []
    for piece in cmd.usage:
        pieces.append(_i(piece) if piece != "[OPTIONS]" else "[" + _i("OPTIONS") + "]")
    return [".SH SYNOPSIS", _b(cmd.command_line) + (" " + " ".join(pieces) if pieces else "")]


def _examples_roff(examples: list[tuple[str, str]]) -> list[str]:
    """Text lines become paragraphs; consecutive command lines one indented block."""
    out = [".SH EXAMPLES"]
    groups: list[tuple[str, list[str]]] = []
    for kind, text in examples:
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(text)
        else:
            groups.append((kind, [text]))
    for n, (kind, texts) in enumerate(groups):
        if n:
            out.append(".PP")
        if kind == "text":
            out.append(esc(" ".join(texts)))
        else:
            out += [".RS 4", ".nf"] + ["$ " + _b(t) for t in texts] + [".fi", ".RE"]
    return out


#: examples that run on the demo night (mopstool demo): tests/test_man_examples.py
#: runs every example of every page on it, with --db substituted
DEMO_EXAMPLES: dict[str, list[tuple[str, str]]] = {
    "czar": [("The morning check of the demo night:", "mopstool czar --night 2018-07-10"),
             ("The same for scripts:", "mopstool czar --night 2018-07-10 --json")],
    "lostvisits": [("Visits of each field group:", "mopstool lostvisits --night 2018-07-10")],
    "diffpairs": [("The diff plan of the night:", "mopstool diffpairs --night 2018-07-10"),
                  ("What defining the planned diffs would do:",
                   "mopstool diffpairs --night 2018-07-10 --define --dry-run")],
    "night": [("One row per exposure:", "mopstool night --night 2018-07-10")],
    "faults": [("Faulted components by fault code:", "mopstool faults --night 2018-07-10"),
               ("One row per faulted chip as JSON:", "mopstool faults --stage chip --components --json")],
    "runs": [("The chip runs of a night:", "mopstool runs chip --night 2018-07-10"),
             ("Chosen columns of the newest warp runs of a label:",
              "mopstool runs warp --label 'OSS%' --columns warp_id,state,label --limit 5")],
    "show": [("One chip run with its faulted components:", "mopstool show chip 1600095")],
    "revert": [("What reverting a faulted chip run would do:",
                "mopstool revert chip --id 1600095 --dry-run")],
    "cleanup": [("What retention cleanup would move the day after the demo night:",
                 "mopstool cleanup --dry-run --as-of 2018-07-11")],
    "fixbroken": [("The replacement runs fixbroken would define:", "mopstool fixbroken --dry-run")],
    "pstamp-req backlog": [("What the stamp server still has to do:", "mopstool pstamp-req backlog")],
    "pstamp-req list": [("The newest stamp requests:", "mopstool pstamp-req list --limit 5")],
    "mopscat build": [("The MOPS catalog of one diff:",
                       "mopstool mopscat build --diff-id 1300048 -o demo.mops")],
    "labels list": [("Labels and their priorities:", "mopstool labels list")],
    "config show": [("Where every configuration value comes from:", "mopstool config show")],
    "db check": [("Check the database against what mopstool needs:", "mopstool db check")],
}


def _generic_examples(cmd: CommandDoc) -> list[tuple[str, str]]:
    """Examples that run: the demo's for the command, else its --help."""
    key = cmd.command_line.split(" ", 1)[1] if " " in cmd.command_line else ""
    ex: list[tuple[str, str]] = []
    for text, line in DEMO_EXAMPLES.get(key, []):
        ex += [("text", text), ("cmd", line)]
    if ex:
        return ex
    if cmd.is_group and cmd.subcommands:
        first = cmd.subcommands[0]
        return [("text", f"Show the options of {first.command_line}:"),
                ("cmd", f"{first.command_line} --help")]
    return [("text", "Show the options:"), ("cmd", f"{cmd.command_line} --help")]


#: examples for the main page, used only when the command and options exist
_ROOT_EXAMPLES = [
    (("demo",), [], "Load the synthetic demo night into the embedded SQLite database:", "mopstool demo"),
    (("czar",), ["--night"], "The morning check of last night:", "mopstool czar --night yesterday"),
    (("runs",), ["--label", "--json"], "List the chip runs of a label as JSON:",
     "mopstool runs chip --label 'OSS%' --json"),
    (("faults",), [], "Faulted components, grouped by code with their meanings:", "mopstool faults"),
    (("config", "show"), [], "Where every configuration value comes from:", "mopstool config show"),
    (("db", "check"), [], "Check a live database against what mopstool needs:",
     "mopstool --db mysql+pymysql://ipp@ippdb01/gpc1 db check"),
]


def _root_examples(root: CommandDoc) -> list[tuple[str, str]]:
    ex: list[tuple[str, str]] = []
    for path, need, text, line in _ROOT_EXAMPLES:
        cmd = root.find(path)
        if cmd is None:
            continue
        have = {o for p in cmd.options for o in p.all_opts}
        if all(n in have for n in need):
            ex += [("text", text), ("cmd", line)]
    return ex


def _environment() -> list[str]:
    env = [
        ("MOPSTOOL_DB", "Image database URL, as --db."),
        ("MOPSTOOL_PSTAMP_DB", "Stamp request database URL, as --pstamp-db (default: the image database)."),
        ("MOPSTOOL_DBNAME", "Database profile [database.NAME] of the configuration, as --dbname "
                            "(default gpc1)."),
        ("MOPSTOOL_CONFIG", "An extra configuration file, as --config."),
        ("MOPSTOOL_FORMAT", "Default output format of listings: table, json, jsonl or csv "
                            "(--format and --json win)."),
        ("MOPSTOOL_DEBUG", "1, true or yes: print a traceback for unexpected errors, as --debug."),
        ("MOPSTOOL_<SECTION>__<KEY>", "Override one configuration value; the double underscore "
                                      "separates the levels, e.g. MOPSTOOL_GENERAL__CONFIRM_ABOVE=200 "
                                      "sets general.confirm_above. Values are read as TOML values "
                                      "when they parse as such, as strings otherwise."),
        ("IPPRC", "The IPP configuration file whose DBSERVER, DBUSER, DBPASSWORD, DBNAME and DBPORT "
                  "keys are the database fallback (default ~/.ipprc)."),
        ("XDG_CONFIG_HOME, XDG_DATA_HOME", "Base directories of the user configuration file and "
                                           "of the embedded database (default ~/.config and "
                                           "~/.local/share)."),
    ]
    out = [".SH ENVIRONMENT"]
    for name, text in env:
        out += [".TP", _b(name), esc(text)]
    return out


def _configuration() -> list[str]:
    import mopstool.config as config_module

    out = [".SH CONFIGURATION"]
    doc = _clean_help(config_module.__doc__)
    body = doc.split("\n\n", 1)[1] if "\n\n" in doc else doc
    out += _roff_blocks(body)
    out += [".PP", esc("Configuration files are TOML. They hold database profiles ([database.NAME] "
                       "with url, or server, user, name, port and password_file, plus pstamp_url or "
                       "pstamp_server and pstamp_name), the survey targets, retention days per stage "
                       "and target, reprocessing presets and postage-stamp limits. A file that holds "
                       "a password must be readable by its owner only (exit 77 otherwise). "
                       "mopstool config show prints every value and the layer it came from.")]
    return out


def _files_section() -> list[str]:
    files = [
        ("/etc/xdg/mopstool/config.toml", "System-wide configuration."),
        ("$XDG_CONFIG_HOME/mopstool/config.toml", "User configuration (default "
                                                  "~/.config/mopstool/config.toml)."),
        ("~/.ipprc", "IPP database keys, used when no URL or profile is given ($IPPRC names "
                     "another file)."),
        ("$XDG_DATA_HOME/mopstool/mopstool.sqlite", "The embedded SQLite database used when no "
                                                    "database is configured (default "
                                                    "~/.local/share/mopstool/mopstool.sqlite)."),
    ]
    out = [".SH FILES"]
    for name, text in files:
        out += [".TP", _i(name), esc(text)]
    return out


def _root_page(root: CommandDoc, global_names: tuple[str, ...]) -> str:
    desc, examples = split_examples(root.help)
    out = _th(PROG)
    out += [".SH NAME", f"{esc(PROG)} \\- {esc(_first_sentence(root.help) or 'mopstool')}"]
    out += [".SH SYNOPSIS",
            f"{_b(PROG)} [{_i('OPTIONS')}] {_i('COMMAND')} [{_i('ARGS')}]...",
            ".SH DESCRIPTION"]
    out += _roff_blocks(desc) if desc else []
    globals_ = ", ".join(n for n in global_names)
    out += [".PP", esc(
        f"The options {globals_} may be written before or after the subcommand. Every listing "
        "takes --format table|json|jsonl|csv (or --json) after the subcommand; every command "
        "that changes the database takes --dry-run (show the plan, write nothing) and --yes "
        "(do not ask before changing many rows; without a terminal a large change is refused "
        "with exit 2). Standard output carries data only; notes, warnings and errors go to "
        "standard error, an error as one line. JSON output is UTF-8 with datetimes in ISO 8601 "
        "UTC; an empty result is []."),
            ".SH OPTIONS"]
    out += _param_items(root.options)
    out += [".SH COMMANDS",
            esc("Each command has its own manual page, named after the command with dashes, "
                "e.g. mopstool-db-check(1) for mopstool db check.")]
    for cmd in root.walk():
        if not cmd.path:
            continue
        out += [".TP", _b(" ".join(cmd.path)) + (" " + _i("COMMAND") if cmd.is_group else "")]
        out.append(esc(_first_sentence(cmd.help) + "." if cmd.help else "") +
                   f" See \\fB{esc(cmd.page)}\\fR(1).")
    out += _configuration()
    out += _environment()
    out += _files_section()
    out += _exit_status()
    out += _examples_roff(examples or _root_examples(root) or _generic_examples(root))
    out += [".SH SEE ALSO"]
    pages = [c.page for c in root.walk() if c.path]
    out.append(",\n".join(f"\\fB{esc(p)}\\fR(1)" for p in pages))
    return "\n".join(out) + "\n"


def _command_page(cmd: CommandDoc, root: CommandDoc, global_params: list[ParamDoc]) -> str:
    desc, examples = split_examples(cmd.help)
    summary = _first_sentence(cmd.help) or f"the {' '.join(cmd.path)} command of mopstool"
    out = _th(cmd.page)
    out += [".SH NAME", f"{esc(cmd.page)} \\- {esc(summary)}"]
    out += _synopsis(cmd)
    out += [".SH DESCRIPTION"]
    if cmd.deprecated:
        out += [esc("This command is deprecated."), ".PP"]
    out += _roff_blocks(desc) if desc else [esc(summary + ".")]
    if cmd.is_group and cmd.subcommands:
        out += [".SH COMMANDS"]
        for sub in cmd.subcommands:
            out += [".TP", _b(sub.path[-1]) + (" " + _i("COMMAND") if sub.is_group else "")]
            out.append(esc(_first_sentence(sub.help) + "." if sub.help else "") +
                       f" See \\fB{esc(sub.page)}\\fR(1).")
    if cmd.arguments:
        out += [".SH ARGUMENTS"]
        out += _param_items(cmd.arguments)
    out += [".SH OPTIONS"]
    out += _param_items(cmd.options)
    own = {o for p in cmd.options for o in p.all_opts}
    globals_ = [p for p in global_params if not own & set(p.all_opts)]
    if globals_:
        out += [".SS Global options",
                esc("These options of mopstool(1) may also be written after the subcommand.")]
        out += _param_items(globals_)
    out += _exit_status()
    out += _examples_roff(examples or _generic_examples(cmd))
    see = [PROG] + ["-".join((PROG,) + cmd.path[:i]) for i in range(1, len(cmd.path))]
    see += [s.page for s in cmd.subcommands]
    out += [".SH SEE ALSO", ",\n".join(f"\\fB{esc(p)}\\fR(1)" for p in see)]
    return "\n".join(out) + "\n"


def man_pages(tree, global_option_names: Optional[Iterable[str]] = None) -> dict[str, str]:
    """{file name: roff text}: mopstool.1 and one page per command and group."""
    root = as_tree(tree)
    names = tuple(global_option_names) if global_option_names is not None else _global_option_names()
    gparams = _global_params(root, names)
    pages = {root.filename: _root_page(root, names)}
    for cmd in root.walk():
        if cmd.path:
            pages[cmd.filename] = _command_page(cmd, root, gparams)
    return dict(sorted(pages.items()))


