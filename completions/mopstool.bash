# bash completion for mopstool
# Generated from the command tree by `mopstool docs generate`; do not edit.
# Install: source this file, or copy it to
# ~/.local/share/bash-completion/completions/mopstool

_mopstool_global_valopts='--db --pstamp-db --dbname --config'

_mopstool_cmd_info() {
    # sets subcmds, opts, valopts, argkinds, variadic for the command path $1
    subcmds='' opts='' valopts='' argkinds='' variadic=0
    case "$1" in
        '')
            subcmds='runs show demo chiptool warptool difftool pstamptool db config docs'
            opts='--db --pstamp-db --dbname --config --debug --version --install-completion --show-completion -h --help'
            valopts='--db --pstamp-db --dbname --config'
            argkinds=''
            variadic=0 ;;
        'runs')
            subcmds=''
            opts='-l --label -s --state -g --data-group --dist-group --night --id --limit -f --format --json -h --help --db --pstamp-db --dbname --config --debug'
            valopts='-l --label -s --state -g --data-group --dist-group --night --id --limit -f --format'
            argkinds='none'
            variadic=0 ;;
        'show')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config --debug'
            valopts='-f --format'
            argkinds='none none'
            variadic=0 ;;
        'demo')
            subcmds=''
            opts='--reset --night --files -h --help --db --pstamp-db --dbname --config --debug'
            valopts='--night --files'
            argkinds=''
            variadic=0 ;;
        'chiptool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'warptool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'difftool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'pstamptool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'db')
            subcmds='init check'
            opts='-h --help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'db init')
            subcmds=''
            opts='--exists-ok -h --help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'db check')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config --debug'
            valopts='-f --format'
            argkinds=''
            variadic=0 ;;
        'config')
            subcmds='show'
            opts='-h --help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'config show')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config --debug'
            valopts='-f --format'
            argkinds=''
            variadic=0 ;;
        'docs')
            subcmds='generate'
            opts='-h --help --db --pstamp-db --dbname --config --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'docs generate')
            subcmds=''
            opts='--check --out -h --help --db --pstamp-db --dbname --config --debug'
            valopts='--out'
            argkinds=''
            variadic=0 ;;
    esac
}

_mopstool_value_words() {
    # sets words (choices) and kind (file or none) for "$1|$2": path|option or path|#N
    words='' kind=none
    case "$1|$2" in
        '|--config') kind=file ;;
        'demo|--files') kind=file ;;
        'docs generate|--out') kind=file ;;
        *)
            case "$2" in
            '--config') kind=file ;;
            esac ;;
    esac
}

_mopstool_has() {
    local w=$1; shift
    local x
    for x in "$@"; do [[ $x == "$w" ]] && return 0; done
    return 1
}

_mopstool() {
    local cur word path='' i expect='' nargs=0 words kind n
    local subcmds opts valopts argkinds variadic
    COMPREPLY=()
    cur=${COMP_WORDS[COMP_CWORD]}
    [[ $cur == "=" ]] && cur=''
    _mopstool_cmd_info ''
    for ((i = 1; i < COMP_CWORD; i++)); do
        word=${COMP_WORDS[i]}
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
            path=${path:+$path }$word
            _mopstool_cmd_info "$path"
            nargs=0
        else
            nargs=$((nargs + 1))
        fi
    done
    if [[ -z $expect && $cur == -*=* ]]; then
        # --opt=VALUE in one word (when '=' is not a word break)
        _mopstool_value_words "$path" "${cur%%=*}"
        if [[ -n $words ]]; then
            COMPREPLY=($(compgen -P "${cur%%=*}=" -W "$words" -- "${cur#*=}"))
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
    kind=${kinds[n-1]}
    if [[ $kind == choice ]]; then
        _mopstool_value_words "$path" "#$n"
        COMPREPLY=($(compgen -W "$words" -- "$cur"))
    elif [[ $kind == file ]]; then
        compopt -o filenames 2>/dev/null
        COMPREPLY=($(compgen -f -- "$cur"))
    fi
    return 0
}

complete -F _mopstool mopstool
