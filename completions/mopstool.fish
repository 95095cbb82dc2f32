# fish completion for mopstool
# Generated from the command tree by `mopstool docs generate`; do not edit.
# Install: copy this file to ~/.config/fish/completions/mopstool.fish

set -g __mopstool_commands 'runs' 'show' 'demo' 'chiptool' 'warptool' 'difftool' 'pstamptool' 'db' 'db init' 'db check' 'config' 'config show' 'docs' 'docs generate'
set -g __mopstool_valopts '|--db' '|--pstamp-db' '|--dbname' '|--config' 'runs|-l' 'runs|--label' 'runs|-s' 'runs|--state' 'runs|-g' 'runs|--data-group' 'runs|--dist-group' 'runs|--night' 'runs|--id' 'runs|--limit' 'runs|-f' 'runs|--format' 'show|-f' 'show|--format' 'demo|--night' 'demo|--files' 'db check|-f' 'db check|--format' 'config show|-f' 'config show|--format' 'docs generate|--out'
set -g __mopstool_global_valopts '--db' '--pstamp-db' '--dbname' '--config'

function __mopstool_path --description 'The mopstool subcommand path on the command line'
    set -l tokens (commandline -opc)
    set -e tokens[1]
    set -l path ''
    set -l skip 0
    for t in $tokens
        if test $skip -eq 1
            set skip 0
            continue
        end
        switch $t
            case '-*=*'
                continue
            case '-*'
                if contains -- "$path|$t" $__mopstool_valopts; or contains -- $t $__mopstool_global_valopts
                    set skip 1
                end
                continue
        end
        set -l candidate (string trim -- "$path $t")
        if contains -- $candidate $__mopstool_commands
            set path $candidate
        end
    end
    echo $path
end

function __mopstool_using --description 'True when the subcommand path is $argv[1]'
    test (__mopstool_path) = "$argv[1]"
end

complete -c mopstool -f

# options of mopstool that may be written after any subcommand
complete -c mopstool -l db -x -d 'Image database URL (env MOPSTOOL_DB), e.g. mysql+pymysql://ipp@ippdb01/gpc1'
complete -c mopstool -l pstamp-db -x -d 'Stamp request database URL (env MOPSTOOL_PSTAMP_DB); default: --db'
complete -c mopstool -l dbname -x -d 'Database profile [database.NAME] of the config (default gpc1)'
complete -c mopstool -l config -r -F -d 'Extra config file (env MOPSTOOL_CONFIG)'
complete -c mopstool -l debug -d 'Show tracebacks (env MOPSTOOL_DEBUG=1)'

# mopstool
complete -c mopstool -n '__mopstool_using \'\'' -l version -d 'Print the version and exit'
complete -c mopstool -n '__mopstool_using \'\'' -l install-completion -d 'Install completion for the current shell'
complete -c mopstool -n '__mopstool_using \'\'' -l show-completion -d 'Show completion for the current shell, to copy it or customize the installation'
complete -c mopstool -n '__mopstool_using \'\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'\'' -a 'runs' -d 'List runs of a stage, newest first, with component, fault and bad-quality counts'
complete -c mopstool -n '__mopstool_using \'\'' -a 'show' -d 'Show one run with its components, states, and faults with their meanings'
complete -c mopstool -n '__mopstool_using \'\'' -a 'demo' -d 'Load a synthetic night (and the night before) with the troubles the czar meets'
complete -c mopstool -n '__mopstool_using \'\'' -a 'chiptool' -d 'Run a chiptool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'warptool' -d 'Run a warptool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'difftool' -d 'Run a difftool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'pstamptool' -d 'Run a pstamptool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'db' -d 'Create or check the database schema'
complete -c mopstool -n '__mopstool_using \'\'' -a 'config' -d 'Show the merged configuration'
complete -c mopstool -n '__mopstool_using \'\'' -a 'docs' -d 'Generate the man pages and shell completion scripts'

# mopstool runs
complete -c mopstool -n '__mopstool_using \'runs\'' -s l -l label -x -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -s s -l state -x -d 'Run state; repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -s g -l data-group -x -d 'data_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -l dist-group -x -d 'dist_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'runs\'' -l id -x -d 'Run id; repeat for several'
complete -c mopstool -n '__mopstool_using \'runs\'' -l limit -x -d 'At most this many rows'
complete -c mopstool -n '__mopstool_using \'runs\'' -s f -l format -x -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'runs\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'runs\'' -s h -l help -d 'Show this message and exit'

# mopstool show
complete -c mopstool -n '__mopstool_using \'show\'' -s f -l format -x -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'show\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'show\'' -s h -l help -d 'Show this message and exit'

# mopstool demo
complete -c mopstool -n '__mopstool_using \'demo\'' -l reset -d 'Drop and recreate the demo database'
complete -c mopstool -n '__mopstool_using \'demo\'' -l night -x -d 'UTC date of the demo night (default 2018-07-10)'
complete -c mopstool -n '__mopstool_using \'demo\'' -l files -r -F -d 'Directory for the demo\'s CMF files (default: beside the database)'
complete -c mopstool -n '__mopstool_using \'demo\'' -s h -l help -d 'Show this message and exit'

# mopstool chiptool
complete -c mopstool -n '__mopstool_using \'chiptool\'' -l help -d 'Show this message and exit'

# mopstool warptool
complete -c mopstool -n '__mopstool_using \'warptool\'' -l help -d 'Show this message and exit'

# mopstool difftool
complete -c mopstool -n '__mopstool_using \'difftool\'' -l help -d 'Show this message and exit'

# mopstool pstamptool
complete -c mopstool -n '__mopstool_using \'pstamptool\'' -l help -d 'Show this message and exit'

# mopstool db
complete -c mopstool -n '__mopstool_using \'db\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'db\'' -a 'init' -d 'Create the gpc1 and pstamp schema on an empty (scratch or SQLite) database'
complete -c mopstool -n '__mopstool_using \'db\'' -a 'check' -d 'Compare the live database(s) with mopstool\'s models (exit 3 when tables or...'

# mopstool db init
complete -c mopstool -n '__mopstool_using \'db init\'' -l exists-ok -d 'Allow a database that already holds a gpc1 schema (adds missing tables only)'
complete -c mopstool -n '__mopstool_using \'db init\'' -s h -l help -d 'Show this message and exit'

# mopstool db check
complete -c mopstool -n '__mopstool_using \'db check\'' -s f -l format -x -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'db check\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'db check\'' -s h -l help -d 'Show this message and exit'

# mopstool config
complete -c mopstool -n '__mopstool_using \'config\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'config\'' -a 'show' -d 'Print every configuration value with the layer it came from, and the...'

# mopstool config show
complete -c mopstool -n '__mopstool_using \'config show\'' -s f -l format -x -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'config show\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'config show\'' -s h -l help -d 'Show this message and exit'

# mopstool docs
complete -c mopstool -n '__mopstool_using \'docs\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'docs\'' -a 'generate' -d 'Write man/*.1 and completions/ from the commands mopstool has now'

# mopstool docs generate
complete -c mopstool -n '__mopstool_using \'docs generate\'' -l check -d 'Compare with the files on disk and write nothing; exit 3 listing stale files'
complete -c mopstool -n '__mopstool_using \'docs generate\'' -l out -r -F -d 'Directory that holds man/ and completions/ (default: the current directory)'
complete -c mopstool -n '__mopstool_using \'docs generate\'' -s h -l help -d 'Show this message and exit'
