"""Man pages and shell completion scripts generated from the command tree.

``mopstool docs generate`` walks whatever commands the typer app holds at run
time and writes ``man/mopstool.1``, one ``man/mopstool-<command>.1`` page per
command and group, and static completion scripts for bash, zsh and fish under
``completions/``. ``--check`` compares instead of writing (exit 3 when stale).

The output is stable: no dates, no version numbers, and paths of the current
user's home and XDG directories are written as ``~`` / ``$XDG_...``.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Iterable, Optional

import typer

try:  # typer >= 0.26 bundles its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

PROG = "mopstool"
MANUAL = "mopstool manual"
#: file names of the completion scripts under completions/
COMPLETION_FILES = {"bash": "mopstool.bash", "zsh": "_mopstool", "fish": "mopstool.fish"}

_NUMBER_TYPES = (int, float)
#: names and help words that make a plain string parameter complete file names
_FILE_NAME_HINT = re.compile(r"file|dir|path|config|image|mask|variance|cmf|fits|mops|^out")
_FILE_HELP_HINT = re.compile(r"\b(files?|director(y|ies)|paths?)\b", re.IGNORECASE)


# ====================================================================== the command tree
@dataclass
class ParamDoc:
    """One option or argument as ``--help`` shows it."""

    kind: str                 # "option" or "argument"
    name: str                 # python name (arguments: the name --help shows)
    opts: list[str]           # option strings, short ones first; arguments: []
    secondary_opts: list[str]
    value: str                # value placeholder as --help shows it ("<str>"), "" for flags
    help: str                 # help text with "[default: ...]" / "[required]" as in --help
    takes_value: bool
    multiple: bool
    required: bool
    nargs: int
    value_kind: str           # "choice", "file", "none" (no completion) or "" (flag)
    choices: list[str] = field(default_factory=list)

    @property
    def all_opts(self) -> list[str]:
        return self.opts + self.secondary_opts


@dataclass
class CommandDoc:
    path: tuple[str, ...]     # () for the root
    help: str
    usage: list[str]          # usage pieces after the command path
    params: list[ParamDoc]
    subcommands: list["CommandDoc"]
    is_group: bool
    deprecated: bool = False

    @property
    def command_line(self) -> str:
        return " ".join((PROG,) + self.path)

    @property
    def page(self) -> str:
        return "-".join((PROG,) + self.path)

    @property
    def filename(self) -> str:
        return self.page + ".1"

    @property
    def options(self) -> list[ParamDoc]:
        return [p for p in self.params if p.kind == "option"]

    @property
    def arguments(self) -> list[ParamDoc]:
        return [p for p in self.params if p.kind == "argument"]

    def walk(self) -> Iterable["CommandDoc"]:
        yield self
        for sub in self.subcommands:
            yield from sub.walk()

    def find(self, path: tuple[str, ...]) -> Optional["CommandDoc"]:
        for c in self.walk():
            if c.path == tuple(path):
                return c
        return None


def _sanitizer() -> list[tuple[str, str]]:
    """Replacements that keep the current user's directories out of the output."""
    pairs = []
    for var, repl in (("XDG_CONFIG_HOME", "$XDG_CONFIG_HOME"), ("XDG_DATA_HOME", "$XDG_DATA_HOME"),
                      ("XDG_CACHE_HOME", "$XDG_CACHE_HOME"), ("HOME", "~")):
        value = os.environ.get(var, "").rstrip("/")
        if len(value) > 1:
            pairs.append((value, repl))
    pairs.sort(key=lambda p: -len(p[0]))
    return pairs


def _clean_help(text: Optional[str]) -> str:
    if not text:
        return ""
    return inspect.cleandoc(text).partition("\f")[0].strip()


def _element_type(annotation: Any) -> Any:
    from typing import get_args, get_origin

    if get_origin(annotation) in (list, tuple):
        args = [a for a in get_args(annotation) if a is not Ellipsis]
        if args:
            return args[0]
    return annotation


def _value_kind(param: Any) -> tuple[str, list[str]]:
    """How a shell should complete the value of a parameter."""
    desc = getattr(param, "type_descriptor", None)
    if desc is not None:
        if desc.is_choice and desc.choices:
            from enum import Enum

            return "choice", [str(c.value) if isinstance(c, Enum) else str(c) for c in desc.choices]
        elem = _element_type(desc.annotation)
        if desc.is_path or desc.is_file or (isinstance(elem, type) and issubclass(elem, os.PathLike)):
            return "file", []
        if elem is bool or (isinstance(elem, type) and issubclass(elem, _NUMBER_TYPES)):
            return "none", []
        if desc.is_datetime or desc.is_ranged:
            return "none", []
    else:  # a plain click parameter
        ptype = getattr(param, "type", None)
        choices = getattr(ptype, "choices", None)
        if choices:
            return "choice", [str(c) for c in choices]
        tname = getattr(ptype, "name", "")
        if tname in ("path", "file", "filename"):
            return "file", []
        if tname in ("integer", "float", "boolean", "integer range", "float range", "datetime"):
            return "none", []
    if _FILE_NAME_HINT.search(param.name or "") or _FILE_HELP_HINT.search(getattr(param, "help", "") or ""):
        return "file", []
    return "none", []


def _short_first(opts: list[str]) -> list[str]:
    return sorted(opts, key=lambda o: len(o) - len(o.lstrip("-/+")))


def _param_doc(param: Any, ctx: Any, clean) -> Optional[ParamDoc]:
    if getattr(param, "hidden", False):
        return None
    record = param.get_help_record(ctx)
    if record is None:
        return None
    term, help_text = record
    if param.param_type_name == "argument":
        kind_, choices = _value_kind(param)
        display = term.split(" ", 1)
        return ParamDoc(kind="argument", name=display[0], opts=[], secondary_opts=[],
                        value=display[1] if len(display) > 1 else "", help=clean(help_text),
                        takes_value=True, multiple=param.nargs != 1, required=bool(param.required),
                        nargs=param.nargs, value_kind=kind_, choices=choices)
    is_flag = bool(getattr(param, "is_flag", False) or getattr(param, "count", False))
    value = ""
    if not is_flag:
        if hasattr(param, "display_type_rich"):
            value = param.display_type_rich(ctx=ctx) or ""
        else:  # plain click option
            value = param.make_metavar(ctx) if _accepts(param.make_metavar, "ctx") else param.make_metavar()
    kind_, choices = ("", []) if is_flag else _value_kind(param)
    return ParamDoc(kind="option", name=param.name or "", opts=_short_first(list(param.opts)),
                    secondary_opts=_short_first(list(param.secondary_opts)), value=value,
                    help=clean(help_text), takes_value=not is_flag, multiple=bool(param.multiple),
                    required=bool(param.required), nargs=param.nargs, value_kind=kind_, choices=choices)


def _accepts(fn, name: str) -> bool:
    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):  # pragma: no cover
        return False


def _command_doc(cmd: Any, ctx: Any, path: tuple[str, ...], clean) -> CommandDoc:
    params = [d for d in (_param_doc(p, ctx, clean) for p in cmd.get_params(ctx)) if d is not None]
    subs: list[CommandDoc] = []
    commands = getattr(cmd, "commands", None)
    is_group = commands is not None
    if is_group:
        names = cmd.list_commands(ctx) if hasattr(cmd, "list_commands") else list(commands)
        for name in names:
            sub = commands.get(name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx, **(sub.context_settings or {}))
            subs.append(_command_doc(sub, sub_ctx, path + (name,), clean))
    return CommandDoc(path=path, help=clean(_clean_help(cmd.help)), usage=list(cmd.collect_usage_pieces(ctx)),
                      params=params, subcommands=subs, is_group=is_group,
                      deprecated=bool(getattr(cmd, "deprecated", False)))


def command_tree(app: typer.Typer) -> CommandDoc:
    """The visible commands, options and arguments of ``app``, as ``--help`` shows them."""
    pairs = _sanitizer()

    def clean(text: str) -> str:
        for value, repl in pairs:
            text = text.replace(value, repl)
        return text

    root = typer.main.get_command(app)
    ctx = click.Context(root, info_name=PROG, **(root.context_settings or {}))
    return _command_doc(root, ctx, (), clean)


def _global_option_names() -> tuple[str, ...]:
    """Root options that may also be written after the subcommand."""
    try:
        from mopstool.cli import main as cli_main

        return tuple(cli_main._GLOBAL_VALUE_OPTS) + tuple(cli_main._GLOBAL_FLAGS)
    except (ImportError, AttributeError):  # pragma: no cover
        return ("--db", "--pstamp-db", "--dbname", "--config", "--debug")


def _global_params(root: CommandDoc, names: Iterable[str]) -> list[ParamDoc]:
    wanted = set(names)
    return [p for p in root.options if wanted & set(p.all_opts)]


# ====================================================================== help text
def _first_sentence(text: str) -> str:
    para = text.split("\n\n", 1)[0].replace("\n", " ").strip()
    m = re.search(r"(?<!\be\.g)(?<!\bi\.e)(?<!\betc)\.(\s|$)", para)
    sentence = para[:m.start()] if m else para
    return sentence.rstrip(".").strip()


_EXAMPLE_HEAD = re.compile(r"^Examples?\b\s*:?\s*(.*)$")


def split_examples(text: str) -> tuple[str, list[tuple[str, str]]]:
    """Split help text into (description, examples).

    Examples start at the first line that begins with ``$ `` or ``Example``;
    everything from there on is the examples part. Each example is a pair
    (kind, text) with kind ``cmd`` for a ``$ `` command line, ``text`` otherwise.
    """
    lines = text.splitlines()
    start = None
    for i, line in enumerate(lines):
        s = line.strip()
        if s.startswith("$ ") or _EXAMPLE_HEAD.match(s):
            start = i
            break
    if start is None:
        return text, []
    examples: list[tuple[str, str]] = []
    for line in lines[start:]:
        s = line.strip()
        if not s or s == "\b":
            continue
        m = _EXAMPLE_HEAD.match(s)
        if m:
            rest = m.group(1).strip()
            if rest.startswith("$ "):
                examples.append(("cmd", rest[2:].strip()))
            elif rest.startswith(PROG + " "):
                examples.append(("cmd", rest))
            elif rest:
                examples.append(("text", rest))
        elif s.startswith("$ "):
            examples.append(("cmd", s[2:].strip()))
        else:
            examples.append(("text", s))
    return "\n".join(lines[:start]).rstrip(), examples


def _paragraphs(text: str) -> list[tuple[str, list[str]]]:
    """("fill", lines) or ("pre", lines) blocks, following click's \\b convention."""
    blocks: list[tuple[str, list[str]]] = []
    for chunk in re.split(r"\n\s*\n", text.strip()):
        lines = chunk.split("\n")
        if not chunk.strip():
            continue
        if lines[0].strip() == "\b":
            blocks.append(("pre", [ln.rstrip() for ln in lines[1:]]))
        elif all(ln.startswith((" ", "\t")) for ln in lines if ln.strip()):
            blocks.append(("pre", [ln.rstrip() for ln in lines]))
        else:
            blocks.append(("fill", [" ".join(ln.strip() for ln in lines)]))
    return blocks


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


def _generic_examples(cmd: CommandDoc) -> list[tuple[str, str]]:
    opts = {o for p in cmd.options for o in p.all_opts}
    base = cmd.command_line
    if cmd.is_group:
        ex: list[tuple[str, str]] = []
        if cmd.subcommands:
            first = cmd.subcommands[0]
            ex += [("text", f"Show the options of {first.command_line}:"),
                   ("cmd", f"{first.command_line} --help")]
        return ex or [("text", "Show the subcommands:"), ("cmd", f"{base} --help")]
    args = " ".join(a.name.upper() + (" ..." if a.multiple else "") for a in cmd.arguments if a.required)
    has_opts = any(o not in ("-h", "--help") for o in opts)
    usage = base + (" " + args if args else "") + (" [OPTIONS]" if has_opts else "")
    ex = [("text", "General form:"), ("cmd", usage)]
    if "--dry-run" in opts:
        ex += [("text", "Show the plan and write nothing:"), ("cmd", usage + " --dry-run")]
    if "--json" in opts:
        ex += [("text", "Print the result as JSON for scripts:"), ("cmd", usage + " --json")]
    return ex


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


def man_pages(app: typer.Typer, global_option_names: Optional[Iterable[str]] = None) -> dict[str, str]:
    """{file name: roff text}: mopstool.1 and one page per command and group."""
    root = command_tree(app)
    names = tuple(global_option_names) if global_option_names is not None else _global_option_names()
    gparams = _global_params(root, names)
    pages = {root.filename: _root_page(root, names)}
    for cmd in root.walk():
        if cmd.path:
            pages[cmd.filename] = _command_page(cmd, root, gparams)
    return dict(sorted(pages.items()))


# ====================================================================== completions
def _sq(text: str) -> str:
    """Single-quote for sh/zsh."""
    return "'" + text.replace("'", "'\\''") + "'"


def _short_desc(text: str, limit: int = 80) -> str:
    s = _first_sentence(text)
    s = re.sub(r"\s+", " ", s)
    if len(s) > limit:
        s = s[:limit - 3].rsplit(" ", 1)[0] + "..."
    return s


def _bash(root: CommandDoc, global_params: list[ParamDoc]) -> str:
    gopts = [o for p in global_params for o in p.all_opts]
    gval = [o for p in global_params if p.takes_value for o in p.all_opts]
    info_cases: list[str] = []
    value_cases: list[str] = []

    def value_case(key: str, p: ParamDoc) -> Optional[str]:
        if p.value_kind == "choice":
            return f"        {_sq(key)}) words={_sq(' '.join(p.choices))} ;;"
        if p.value_kind == "file":
            return f"        {_sq(key)}) kind=file ;;"
        return None

    for cmd in root.walk():
        key = " ".join(cmd.path)
        opts = [o for p in cmd.options for o in p.all_opts]
        if cmd.path:
            opts += [o for o in gopts if o not in opts]
        valopts = [o for p in cmd.options if p.takes_value for o in p.all_opts]
        subs = [s.path[-1] for s in cmd.subcommands]
        args = cmd.arguments
        argkinds = [a.value_kind for a in args]
        variadic = next((i + 1 for i, a in enumerate(args) if a.nargs != 1), 0)
        info_cases.append(
            f"        {_sq(key)})\n"
            f"            subcmds={_sq(' '.join(subs))}\n"
            f"            opts={_sq(' '.join(opts))}\n"
            f"            valopts={_sq(' '.join(valopts))}\n"
            f"            argkinds={_sq(' '.join(argkinds))}\n"
            f"            variadic={variadic} ;;")
        for p in cmd.options:
            if p.takes_value:
                value_cases += [c for o in p.all_opts if (c := value_case(f"{key}|{o}", p))]
        for i, a in enumerate(args, 1):
            if a.value_kind == "choice":
                value_cases.append(value_case(f"{key}|#{i}", a))
    global_cases = [c for p in global_params if p.takes_value for o in p.all_opts
                    if (c := value_case(o, p))]
    value_block = "\n".join(value_cases)
    global_block = "\n".join("    " + c for c in global_cases) or "            *) ;;"
    return f"""# bash completion for mopstool
# Generated from the command tree by `mopstool docs generate`; do not edit.
# Install: source this file, or copy it to
# ~/.local/share/bash-completion/completions/mopstool

_mopstool_global_valopts={_sq(' '.join(gval))}

_mopstool_cmd_info() {{
    # sets subcmds, opts, valopts, argkinds, variadic for the command path $1
    subcmds='' opts='' valopts='' argkinds='' variadic=0
    case "$1" in
{chr(10).join(info_cases)}
    esac
}}

_mopstool_value_words() {{
    # sets words (choices) and kind (file or none) for "$1|$2": path|option or path|#N
    words='' kind=none
    case "$1|$2" in
{value_block}
        *)
            case "$2" in
{global_block}
            esac ;;
    esac
}}

_mopstool_has() {{
    local w=$1; shift
    local x
    for x in "$@"; do [[ $x == "$w" ]] && return 0; done
    return 1
}}

_mopstool() {{
    local cur word path='' i expect='' nargs=0 words kind n
    local subcmds opts valopts argkinds variadic
    COMPREPLY=()
    cur=${{COMP_WORDS[COMP_CWORD]}}
    [[ $cur == "=" ]] && cur=''
    _mopstool_cmd_info ''
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${{COMP_WORDS[i]}}
        if [[ -n $expect ]]; then
            # the value of the option before: --opt VALUE or --opt=VALUE (bash splits at '=')
            [[ $word == "=" ]] || expect=''
            continue
        fi
        if [[ $word == -* ]]; then
            if [[ $word != *=* ]] && _mopstool_has "$word" $valopts $_mopstool_global_valopts; then
                expect=$word
            fi
            continue
        fi
        if [[ -n $subcmds ]] && _mopstool_has "$word" $subcmds; then
            path=${{path:+$path }}$word
            _mopstool_cmd_info "$path"
            nargs=0
        else
            nargs=$((nargs + 1))
        fi
    done
    if [[ -z $expect && $cur == -*=* ]]; then
        # --opt=VALUE in one word (when '=' is not a word break)
        _mopstool_value_words "$path" "${{cur%%=*}}"
        if [[ -n $words ]]; then
            COMPREPLY=($(compgen -P "${{cur%%=*}}=" -W "$words" -- "${{cur#*=}}"))
        fi
        return 0
    fi
    if [[ -n $expect ]]; then
        _mopstool_value_words "$path" "$expect"
        if [[ -n $words ]]; then
            COMPREPLY=($(compgen -W "$words" -- "$cur"))
        elif [[ $kind == file ]]; then
            compopt -o filenames 2>/dev/null
            COMPREPLY=($(compgen -f -- "$cur"))
        fi
        return 0
    fi
    if [[ $cur == -* ]]; then
        COMPREPLY=($(compgen -W "$opts" -- "$cur"))
        return 0
    fi
    if [[ -n $subcmds ]]; then
        COMPREPLY=($(compgen -W "$subcmds" -- "$cur"))
        return 0
    fi
    n=$((nargs + 1))
    if ((variadic > 0 && n > variadic)); then n=$variadic; fi
    local -a kinds=($argkinds)
    kind=${{kinds[n-1]}}
    if [[ $kind == choice ]]; then
        _mopstool_value_words "$path" "#$n"
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    elif [[ $kind == file ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}}

complete -F _mopstool mopstool
"""


def _zsh_escape_desc(text: str) -> str:
    return re.sub(r"([\[\]:\\])", r"\\\1", text)


def _zsh_action(p: ParamDoc) -> str:
    if p.value_kind == "choice":
        return "(" + " ".join(re.sub(r"([\s()\\])", r"\\\1", c) for c in p.choices) + ")"
    if p.value_kind == "file":
        return "_files"
    return " "


def _zsh_option_specs(params: list[ParamDoc]) -> list[str]:
    specs: list[str] = []
    for p in params:
        desc = _zsh_escape_desc(_short_desc(p.help))
        value = ""
        if p.takes_value:
            label = _zsh_escape_desc(p.value.strip("<>") or "value")
            value = f":{label}:{_zsh_action(p)}"
        for group in ([p.opts, p.secondary_opts] if p.secondary_opts else [p.opts]):
            if not group:
                continue
            names = group
            if p.multiple:
                prefix = "*"
            elif len(names) > 1 or p.secondary_opts:
                prefix = "(" + " ".join(p.all_opts) + ")"
            else:
                prefix = ""
            if len(names) == 1:
                specs.append(_sq(f"{prefix}{names[0]}[{desc}]{value}"))
            else:
                specs.append(_sq(prefix) + "{" + ",".join(names) + "}" + _sq(f"[{desc}]{value}"))
    return specs


def _zsh_func(cmd: CommandDoc) -> str:
    return "_mopstool" + "".join("__" + re.sub(r"[^A-Za-z0-9]", "_", p) for p in cmd.path)


def _zsh(root: CommandDoc, global_params: list[ParamDoc]) -> str:
    funcs: list[str] = []
    for cmd in root.walk():
        params = list(cmd.options)
        if cmd.path:
            own = {o for p in params for o in p.all_opts}
            params += [p for p in global_params if not own & set(p.all_opts)]
        specs = _zsh_option_specs(params)
        name = _zsh_func(cmd)
        if cmd.is_group:
            items = "\n".join(f"        {_sq(s.path[-1] + ':' + _short_desc(s.help).replace(':', chr(92) + ':'))}"
                              for s in cmd.subcommands)
            cases = "\n".join(f"                {s.path[-1]}) {_zsh_func(s)} ;;" for s in cmd.subcommands)
            spec_lines = "".join(f"        {s} \\\n" for s in specs)
            funcs.append(f"""{name}() {{
    local curcontext="$curcontext" state line ret=1
    typeset -A opt_args
    local -a commands
    commands=(
{items}
    )
    _arguments -C -S \\
{spec_lines}        ': :->command' \\
        '*:: :->args' && ret=0
    case $state in
        command)
            _describe -t commands {_sq(cmd.command_line + ' command')} commands && ret=0 ;;
        args)
            curcontext="${{curcontext%:*:*}}:{'-'.join((PROG,) + cmd.path)}-$words[1]:"
            case $words[1] in
{cases}
            esac ;;
    esac
    return ret
}}
""")
        else:
            arg_specs = []
            for i, a in enumerate(cmd.arguments, 1):
                label = _zsh_escape_desc(a.name)
                action = _zsh_action(a)
                if a.nargs != 1:
                    arg_specs.append(_sq(f"*:{label}:{action}"))
                elif a.required:
                    arg_specs.append(_sq(f"{i}:{label}:{action}"))
                else:
                    arg_specs.append(_sq(f"{i}::{label}:{action}"))
            all_specs = specs + arg_specs
            body = " \\\n        ".join(all_specs)
            funcs.append(f"""{name}() {{
    _arguments -S \\
        {body}
}}
""")
    return ("#compdef mopstool\n"
            "# zsh completion for mopstool\n"
            "# Generated from the command tree by `mopstool docs generate`; do not edit.\n"
            "# Install: put this file (named _mopstool) in a directory of $fpath, then run compinit.\n\n"
            + "\n".join(funcs)
            + '\nif [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n'
              '    _mopstool "$@"\n'
              'else\n'
              '    compdef _mopstool mopstool\n'
              'fi\n')


def _fish_q(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish_opt_flags(opts: list[str]) -> str:
    parts = []
    for o in opts:
        if o.startswith("--"):
            parts.append(f"-l {o[2:]}")
        elif o.startswith("-") and len(o) == 2:
            parts.append(f"-s {o[1:]}")
        elif o.startswith("-"):
            parts.append(f"-o {o[1:]}")
    return " ".join(parts)


def _fish_option_lines(params: list[ParamDoc], cond: str) -> list[str]:
    out = []
    for p in params:
        flags = _fish_opt_flags(p.all_opts)
        if not flags:
            continue
        line = f"complete -c mopstool{cond} {flags}"
        if p.takes_value:
            if p.value_kind == "choice":
                line += " -x -a " + _fish_q(" ".join(p.choices))
            elif p.value_kind == "file":
                line += " -r -F"
            else:
                line += " -x"
        desc = _short_desc(p.help)
        if desc:
            line += " -d " + _fish_q(desc)
        out.append(line)
    return out


def _fish(root: CommandDoc, global_params: list[ParamDoc]) -> str:
    commands = [" ".join(c.path) for c in root.walk() if c.path]
    valopts = []
    for c in root.walk():
        key = " ".join(c.path)
        valopts += [f"{key}|{o}" for p in c.options if p.takes_value for o in p.all_opts]
    gval = [o for p in global_params if p.takes_value for o in p.all_opts]
    lines = [
        "# fish completion for mopstool",
        "# Generated from the command tree by `mopstool docs generate`; do not edit.",
        "# Install: copy this file to ~/.config/fish/completions/mopstool.fish",
        "",
        "set -g __mopstool_commands " + " ".join(_fish_q(c) for c in commands),
        "set -g __mopstool_valopts " + " ".join(_fish_q(v) for v in valopts),
        "set -g __mopstool_global_valopts " + " ".join(_fish_q(v) for v in gval),
        "",
        "function __mopstool_path --description 'The mopstool subcommand path on the command line'",
        "    set -l tokens (commandline -opc)",
        "    set -e tokens[1]",
        "    set -l path ''",
        "    set -l skip 0",
        "    for t in $tokens",
        "        if test $skip -eq 1",
        "            set skip 0",
        "            continue",
        "        end",
        "        switch $t",
        "            case '-*=*'",
        "                continue",
        "            case '-*'",
        "                if contains -- \"$path|$t\" $__mopstool_valopts; or contains -- $t $__mopstool_global_valopts",
        "                    set skip 1",
        "                end",
        "                continue",
        "        end",
        "        set -l candidate (string trim -- \"$path $t\")",
        "        if contains -- $candidate $__mopstool_commands",
        "            set path $candidate",
        "        end",
        "    end",
        "    echo $path",
        "end",
        "",
        "function __mopstool_using --description 'True when the subcommand path is $argv[1]'",
        "    test (__mopstool_path) = \"$argv[1]\"",
        "end",
        "",
        "complete -c mopstool -f",
    ]
    gnames = {o for p in global_params for o in p.all_opts}
    lines += ["", "# options of mopstool that may be written after any subcommand"]
    lines += _fish_option_lines(global_params, "")
    for cmd in root.walk():
        key = " ".join(cmd.path)
        cond = f" -n {_fish_q('__mopstool_using ' + _sq(key))}"
        lines += ["", f"# {cmd.command_line}"]
        lines += _fish_option_lines([p for p in cmd.options if not gnames & set(p.all_opts)], cond)
        for sub in cmd.subcommands:
            line = f"complete -c mopstool{cond} -a {_fish_q(sub.path[-1])}"
            desc = _short_desc(sub.help)
            if desc:
                line += " -d " + _fish_q(desc)
            lines.append(line)
        choices: list[str] = []
        files = False
        for a in cmd.arguments:
            if a.value_kind == "choice":
                choices += [c for c in a.choices if c not in choices]
            elif a.value_kind == "file":
                files = True
        if choices:
            lines.append(f"complete -c mopstool{cond} -a {_fish_q(' '.join(choices))}")
        if files:
            lines.append(f"complete -c mopstool{cond} -F")
    return "\n".join(lines) + "\n"


def completion_scripts(app: typer.Typer,
                       global_option_names: Optional[Iterable[str]] = None) -> dict[str, str]:
    """{file name: script} for bash, zsh and fish."""
    root = command_tree(app)
    names = tuple(global_option_names) if global_option_names is not None else _global_option_names()
    gparams = _global_params(root, names)
    return {
        COMPLETION_FILES["bash"]: _bash(root, gparams),
        COMPLETION_FILES["zsh"]: _zsh(root, gparams),
        COMPLETION_FILES["fish"]: _fish(root, gparams),
    }


def generated_files(app: typer.Typer) -> dict[str, str]:
    """{path relative to the project root: text} of every generated file."""
    files = {f"man/{k}": v for k, v in man_pages(app).items()}
    files.update({f"completions/{k}": v for k, v in completion_scripts(app).items()})
    return dict(sorted(files.items()))


@dataclass
class SyncResult:
    written: list[str] = field(default_factory=list)    # new or changed
    removed: list[str] = field(default_factory=list)    # pages of commands that no longer exist
    unchanged: list[str] = field(default_factory=list)

    @property
    def stale(self) -> list[str]:
        return sorted(self.written + self.removed)


def _leftovers(out_dir: Path, files: dict[str, str]) -> list[str]:
    man_dir = out_dir / "man"
    if not man_dir.is_dir():
        return []
    return sorted(f"man/{p.name}" for p in man_dir.glob(f"{PROG}*.1") if f"man/{p.name}" not in files)


def sync_files(out_dir: Path, files: dict[str, str], *, check: bool) -> SyncResult:
    """Write (or with check=True only compare) the generated files under out_dir."""
    res = SyncResult()
    for rel, text in files.items():
        path = out_dir / rel
        try:
            current = path.read_text(encoding="utf-8")
        except (FileNotFoundError, IsADirectoryError):
            current = None
        if current == text:
            res.unchanged.append(rel)
            continue
        res.written.append(rel)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
    res.removed = _leftovers(out_dir, files)
    if not check:
        for rel in res.removed:
            (out_dir / rel).unlink()
    return res


# ====================================================================== the docs command
docs_app = typer.Typer(help="Generate the man pages and shell completion scripts.", no_args_is_help=True)


@docs_app.command("generate")
def generate(
    check: Annotated[bool, typer.Option(
        "--check", help="Compare with the files on disk and write nothing; exit 3 listing stale files.")] = False,
    out: Annotated[Optional[Path], typer.Option(
        "--out", help="Directory that holds man/ and completions/ (default: the current directory).",
        show_default=False)] = None,
) -> None:
    """Write man/*.1 and completions/ from the commands mopstool has now.

    Pages of commands that no longer exist are removed. With --check nothing is
    written: the command lists what is stale and exits 3, or exits 0 when every
    file is current.

    Examples:

    \b
    $ mopstool docs generate
    $ mopstool docs generate --check
    """
    from mopstool.cli.common import info
    from mopstool.cli.main import app
    from mopstool.errors import CheckFailed

    out_dir = out or Path(".")
    res = sync_files(out_dir, generated_files(app), check=check)
    if check:
        if res.stale:
            for rel in res.written:
                info(f"stale: {rel}")
            for rel in res.removed:
                info(f"stale: {rel} (no such command any more)")
            raise CheckFailed(f"{len(res.stale)} generated files are stale; run 'mopstool docs generate'")
        info(f"{len(res.unchanged)} generated files are current")
        return
    for rel in res.written:
        info(f"wrote {out_dir / rel}")
    for rel in res.removed:
        info(f"removed {out_dir / rel}")
    info(f"{len(res.written)} written, {len(res.removed)} removed, {len(res.unchanged)} unchanged")


def register(app: typer.Typer) -> None:
    app.add_typer(docs_app, name="docs")
