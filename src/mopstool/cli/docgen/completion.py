"""Static shell completion scripts (bash, zsh, fish) from the command tree.

The scripts need no Python at completion time: a TAB never starts mopstool."""

from __future__ import annotations

import re
from typing import Iterable, Optional

from mopstool.cli.docgen.tree import (PROG, CommandDoc, ParamDoc, _first_sentence, _global_option_names,
                                          _global_params, as_tree)

#: file names of the completion scripts under completions/
COMPLETION_FILES = {"bash": "mopstool.bash", "zsh": "_mopstool", "fish": "mopstool.fish"}

#: the labels of the recent runs for --label: read from the cache that `mopstool
#: labels cache` writes, refreshed in the background when older than 5 minutes, so
#: a TAB never waits for the database (bash and zsh share this function)
_SH_LABELS = """_mopstool_labels() {
    local cache=${XDG_CACHE_HOME:-$HOME/.cache}/mopstool/labels
    if [[ ! -f $cache || -n $(find "$cache" -mmin +5 2>/dev/null) ]]; then
        mkdir -p "${cache%/*}" 2>/dev/null && touch "$cache" 2>/dev/null
        (mopstool labels cache </dev/null >/dev/null 2>&1 &)
    fi
    [[ -r $cache ]] && cat -- "$cache"
    return 0
}
"""
_FISH_LABELS = [
    "function __mopstool_labels --description 'Labels of the recent runs (cached)'",
    "    set -l dir $HOME/.cache",
    "    set -q XDG_CACHE_HOME; and set dir $XDG_CACHE_HOME",
    "    set -l cache $dir/mopstool/labels",
    "    if not test -f $cache; or find $cache -mmin +5 2>/dev/null | grep -q .",
    "        mkdir -p $dir/mopstool 2>/dev/null; and touch $cache 2>/dev/null",
    "        mopstool labels cache </dev/null >/dev/null 2>&1 &",
    "    end",
    "    test -r $cache; and cat $cache",
    "end",
    "",
]


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
        if p.value_kind == "label":
            return f"        {_sq(key)}) words=$(_mopstool_labels) ;;"
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

{_SH_LABELS}
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
    if p.value_kind == "label":
        return '{compadd -- ${(f)"$(_mopstool_labels)"}}'
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
            + _SH_LABELS + "\n"
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
            elif p.value_kind == "label":
                line += " -x -a '(__mopstool_labels)'"
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
        *_FISH_LABELS,
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


def completion_scripts(tree,
                       global_option_names: Optional[Iterable[str]] = None) -> dict[str, str]:
    """{file name: script} for bash, zsh and fish."""
    root = as_tree(tree)
    names = tuple(global_option_names) if global_option_names is not None else _global_option_names()
    gparams = _global_params(root, names)
    return {
        COMPLETION_FILES["bash"]: _bash(root, gparams),
        COMPLETION_FILES["zsh"]: _zsh(root, gparams),
        COMPLETION_FILES["fish"]: _fish(root, gparams),
    }


