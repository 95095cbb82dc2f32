"""The command tree as ``--help`` shows it, and the help-text helpers.

:func:`command_tree` walks a click command (the root of mopstool, or any other
tree) and returns plain :class:`CommandDoc` / :class:`ParamDoc` records; the man
page and completion writers work on those records only.
"""

from __future__ import annotations

import inspect
import os
import re
from dataclasses import dataclass, field
from typing import Any, Iterable, Optional

try:  # typer >= 0.26 bundles its own copy of click
    from typer import _click as click
except ImportError:  # pragma: no cover
    import click  # type: ignore[no-redef]

PROG = "mopstool"
MANUAL = "mopstool manual"

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
    value_kind: str           # "choice", "file", "label", "none" (no completion) or "" (flag)
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
    if set(getattr(param, "opts", None) or []) & {"--label", "--set-label"}:
        return "label", []          # from the database, through the completion cache
    words = _vocabulary(param)
    if words:
        return "choice", words
    if _FILE_NAME_HINT.search(param.name or "") or _FILE_HELP_HINT.search(getattr(param, "help", "") or ""):
        return "file", []
    return "none", []


def _vocabulary(param: Any) -> list[str]:
    """Words a value is one of, known without a database: output formats, stage
    names, states and the built-in survey targets."""
    opts = set(getattr(param, "opts", None) or [])
    is_arg = param.param_type_name == "argument"
    if "--format" in opts:
        from mopstool.output import FORMATS

        return list(FORMATS)
    if "--stage" in opts or (is_arg and param.name == "stage"):
        from mopstool.stages import STAGES

        return list(STAGES)
    if opts & {"--state", "--set-state"}:
        from mopstool.stages import JobState, RequestState, State

        return list(dict.fromkeys(str(v.value) for e in (State, RequestState, JobState) for v in e))
    if "--target" in opts:
        import tomllib
        from importlib import resources

        data = tomllib.loads(resources.files("mopstool").joinpath("data/defaults.toml").read_text())
        return list((data.get("targets") or {}).keys())
    return []


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
            sub = cmd.get_command(ctx, name) if hasattr(cmd, "get_command") else commands.get(name)
            if sub is None or getattr(sub, "hidden", False):
                continue
            sub_ctx = click.Context(sub, info_name=name, parent=ctx, **(sub.context_settings or {}))
            subs.append(_command_doc(sub, sub_ctx, path + (name,), clean))
    return CommandDoc(path=path, help=clean(_clean_help(cmd.help)), usage=list(cmd.collect_usage_pieces(ctx)),
                      params=params, subcommands=subs, is_group=is_group,
                      deprecated=bool(getattr(cmd, "deprecated", False)))


def command_tree(root: Any) -> CommandDoc:
    """The visible commands, options and arguments of a click command tree, as ``--help`` shows them.

    ``root`` is a click command (``mopstool.cli.main.root_command()``); a typer
    app is converted first."""
    pairs = _sanitizer()

    def clean(text: str) -> str:
        for value, repl in pairs:
            text = text.replace(value, repl)
        return text

    if not isinstance(root, click.Command):
        import typer

        root = typer.main.get_command(root)
    ctx = click.Context(root, info_name=PROG, **(root.context_settings or {}))
    return _command_doc(root, ctx, (), clean)


def _global_option_names() -> tuple[str, ...]:
    """Root options that may also be written after the subcommand."""
    try:
        from mopstool.cli import main as cli_main

        return tuple(cli_main._GLOBAL_VALUE_OPTS) + tuple(cli_main._GLOBAL_FLAGS)
    except (ImportError, AttributeError):  # pragma: no cover
        return ("--db", "--pstamp-db", "--dbname", "--config", "--debug")


def as_tree(root: Any) -> CommandDoc:
    """A CommandDoc as it is, or the tree of a click command / typer app."""
    return root if isinstance(root, CommandDoc) else command_tree(root)


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


