# fish completion for mopstool
# Generated from the command tree by `mopstool docs generate`; do not edit.
# Install: copy this file to ~/.config/fish/completions/mopstool.fish

function __mopstool_labels --description 'Labels of the recent runs (cached)'
    set -l dir $HOME/.cache
    set -q XDG_CACHE_HOME; and set dir $XDG_CACHE_HOME
    set -l cache $dir/mopstool/labels
    if not test -f $cache; or find $cache -mmin +5 2>/dev/null | grep -q .
        mkdir -p $dir/mopstool 2>/dev/null; and touch $cache 2>/dev/null
        mopstool labels cache </dev/null >/dev/null 2>&1 &
    end
    test -r $cache; and cat $cache
end

set -g __mopstool_commands 'czar' 'lostvisits' 'diffpairs' 'night' 'report' 'faults' 'runs' 'show' 'definebyquery' 'updaterun' 'setupdate' 'revert' 'fixbroken' 'fixbroken status' 'fixbroken finish' 'drop' 'publish' 'labels' 'labels list' 'labels add' 'labels update' 'labels delete' 'labels block' 'labels unblock' 'cleanup' 'cleanup status' 'pstamp-req' 'pstamp-req list' 'pstamp-req show' 'pstamp-req stop' 'pstamp-req clean' 'pstamp-req update' 'pstamp-req cleanup' 'pstamp-req revert' 'pstamp-req backlog' 'pstamp-req create' 'pstamp-req validate' 'pstamp-req cut' 'mopscat' 'mopscat build' 'mopscat check' 'mopscat show' 'testchunk' 'testchunk list' 'testchunk define' 'testchunk compare' 'chiptool' 'warptool' 'difftool' 'pstamptool' 'demo' 'db' 'db init' 'db check' 'config' 'config show'
set -g __mopstool_valopts '|--db' '|--pstamp-db' '|--dbname' '|--config' '|--log-file' 'czar|--night' 'czar|-t' 'czar|--target' 'czar|--chunk' 'czar|--every' 'czar|-f' 'czar|--format' 'lostvisits|--night' 'lostvisits|-t' 'lostvisits|--target' 'lostvisits|--filter' 'lostvisits|--chunk' 'lostvisits|--columns' 'lostvisits|-f' 'lostvisits|--format' 'diffpairs|--night' 'diffpairs|-t' 'diffpairs|--target' 'diffpairs|--filter' 'diffpairs|--chunk' 'diffpairs|--status' 'diffpairs|--columns' 'diffpairs|-f' 'diffpairs|--format' 'night|--night' 'night|-t' 'night|--target' 'night|--chunk' 'night|--every' 'night|--columns' 'night|-f' 'night|--format' 'report|-o' 'report|--output' 'report|--night' 'faults|--night' 'faults|-l' 'faults|--label' 'faults|-g' 'faults|--data-group' 'faults|--stage' 'faults|--fault' 'faults|--id' 'faults|--columns' 'faults|-f' 'faults|--format' 'runs|-l' 'runs|--label' 'runs|-s' 'runs|--state' 'runs|-g' 'runs|--data-group' 'runs|--dist-group' 'runs|--night' 'runs|--id' 'runs|--limit' 'runs|--columns' 'runs|-f' 'runs|--format' 'show|-f' 'show|--format' 'definebyquery|-e' 'definebyquery|--exp-name' 'definebyquery|--exp-id' 'definebyquery|--night' 'definebyquery|--dateobs-begin' 'definebyquery|--dateobs-end' 'definebyquery|--filter' 'definebyquery|--obs-mode' 'definebyquery|--object' 'definebyquery|--comment' 'definebyquery|--comment-skip' 'definebyquery|--inst' 'definebyquery|--telescope' 'definebyquery|--exp-tag' 'definebyquery|--filelevel' 'definebyquery|--data-state' 'definebyquery|--exp-type' 'definebyquery|-l' 'definebyquery|--label' 'definebyquery|--copy-of-label' 'definebyquery|--copy-of-data-group' 'definebyquery|--copy-of-state' 'definebyquery|--limit' 'definebyquery|--stage' 'definebyquery|--fake-id' 'definebyquery|--cam-id' 'definebyquery|--chip-id' 'definebyquery|--reduction' 'definebyquery|--preset' 'definebyquery|--label-date' 'definebyquery|--set-label' 'definebyquery|--set-workdir' 'definebyquery|--set-data-group' 'definebyquery|--set-dist-group' 'definebyquery|--set-tess-id' 'definebyquery|--set-end-stage' 'definebyquery|--set-reduction' 'definebyquery|--set-expgroup' 'definebyquery|--set-dvodb' 'definebyquery|--set-note' 'definebyquery|-f' 'definebyquery|--format' 'definebyquery|--airmass-min' 'definebyquery|--airmass-max' 'definebyquery|--ra-min' 'definebyquery|--ra-max' 'definebyquery|--decl-min' 'definebyquery|--decl-max' 'definebyquery|--exp-time-min' 'definebyquery|--exp-time-max' 'definebyquery|--sat-pixel-frac-min' 'definebyquery|--sat-pixel-frac-max' 'definebyquery|--bg-min' 'definebyquery|--bg-max' 'definebyquery|--bg-stdev-min' 'definebyquery|--bg-stdev-max' 'definebyquery|--bg-mean-stdev-min' 'definebyquery|--bg-mean-stdev-max' 'definebyquery|--alt-min' 'definebyquery|--alt-max' 'definebyquery|--az-min' 'definebyquery|--az-max' 'definebyquery|--ccd-temp-min' 'definebyquery|--ccd-temp-max' 'definebyquery|--posang-min' 'definebyquery|--posang-max' 'definebyquery|--sun-angle-min' 'definebyquery|--sun-angle-max' 'updaterun|--id' 'updaterun|-l' 'updaterun|--label' 'updaterun|-s' 'updaterun|--state' 'updaterun|-g' 'updaterun|--data-group' 'updaterun|--dist-group' 'updaterun|--night' 'updaterun|--set-state' 'updaterun|--set-label' 'updaterun|--set-data-group' 'updaterun|--set-dist-group' 'updaterun|--set-note' 'updaterun|-f' 'updaterun|--format' 'setupdate|--chip-id' 'setupdate|--warp-id' 'setupdate|--diff-id' 'setupdate|--id' 'setupdate|--class-id' 'setupdate|--skycell-id' 'setupdate|--update-mode' 'setupdate|--set-label' 'setupdate|--fault' 'setupdate|-f' 'setupdate|--format' 'revert|--id' 'revert|-l' 'revert|--label' 'revert|-g' 'revert|--data-group' 'revert|--night' 'revert|--fault' 'revert|--component' 'revert|-f' 'revert|--format' 'fixbroken|--exp-name' 'fixbroken|--chip-id' 'fixbroken|--warp-id' 'fixbroken|--diff-id' 'fixbroken|--label-date' 'fixbroken|--limit' 'fixbroken|-f' 'fixbroken|--format' 'fixbroken status|--limit' 'fixbroken status|-f' 'fixbroken status|--format' 'fixbroken finish|-f' 'fixbroken finish|--format' 'drop|--class-id' 'drop|--quality' 'drop|--chip-id' 'drop|--cam-id' 'drop|-f' 'drop|--format' 'publish|--diff-id' 'publish|--night' 'publish|-l' 'publish|--label' 'publish|--client' 'publish|--set-label' 'publish|-f' 'publish|--format' 'labels list|-l' 'labels list|--label' 'labels list|-f' 'labels list|--format' 'labels add|-p' 'labels add|--priority' 'labels add|--comment' 'labels add|-f' 'labels add|--format' 'labels update|-p' 'labels update|--priority' 'labels update|--comment' 'labels update|-f' 'labels update|--format' 'labels delete|-f' 'labels delete|--format' 'labels block|--stage' 'labels block|-f' 'labels block|--format' 'labels unblock|--stage' 'labels unblock|-f' 'labels unblock|--format' 'cleanup|--as-of' 'cleanup|--stage' 'cleanup|--target' 'cleanup|--batch-size' 'cleanup|-f' 'cleanup|--format' 'cleanup status|--as-of' 'cleanup status|--stage' 'cleanup status|-f' 'cleanup status|--format' 'pstamp-req list|--id' 'pstamp-req list|-s' 'pstamp-req list|--state' 'pstamp-req list|-l' 'pstamp-req list|--label' 'pstamp-req list|--name' 'pstamp-req list|--since' 'pstamp-req list|--fault' 'pstamp-req list|--user' 'pstamp-req list|--limit' 'pstamp-req list|-f' 'pstamp-req list|--format' 'pstamp-req show|-f' 'pstamp-req show|--format' 'pstamp-req stop|-f' 'pstamp-req stop|--format' 'pstamp-req clean|-f' 'pstamp-req clean|--format' 'pstamp-req update|--id' 'pstamp-req update|--req-id-max' 'pstamp-req update|-s' 'pstamp-req update|--state' 'pstamp-req update|-l' 'pstamp-req update|--label' 'pstamp-req update|--name' 'pstamp-req update|--fault' 'pstamp-req update|--older-than' 'pstamp-req update|--set-state' 'pstamp-req update|--set-label' 'pstamp-req update|--set-fault' 'pstamp-req update|--not-req-id' 'pstamp-req update|--username' 'pstamp-req update|--req-type' 'pstamp-req update|--timestamp-begin' 'pstamp-req update|--timestamp-end' 'pstamp-req update|--set-out-product' 'pstamp-req update|--set-outdir' 'pstamp-req update|--set-uri' 'pstamp-req update|--set-name' 'pstamp-req update|--set-username' 'pstamp-req update|--set-req-type' 'pstamp-req update|-f' 'pstamp-req update|--format' 'pstamp-req cleanup|--older-than' 'pstamp-req cleanup|-l' 'pstamp-req cleanup|--label' 'pstamp-req cleanup|-f' 'pstamp-req cleanup|--format' 'pstamp-req revert|--id' 'pstamp-req revert|-l' 'pstamp-req revert|--label' 'pstamp-req revert|-s' 'pstamp-req revert|--state' 'pstamp-req revert|--fault' 'pstamp-req revert|--what' 'pstamp-req revert|-f' 'pstamp-req revert|--format' 'pstamp-req backlog|-l' 'pstamp-req backlog|--label' 'pstamp-req backlog|--parse-limit' 'pstamp-req backlog|-f' 'pstamp-req backlog|--format' 'pstamp-req create|-o' 'pstamp-req create|--output' 'pstamp-req create|--req-name' 'pstamp-req create|--email' 'pstamp-req create|--action' 'pstamp-req create|--ra' 'pstamp-req create|--dec' 'pstamp-req create|--from' 'pstamp-req create|--mjd' 'pstamp-req create|--mjd-window' 'pstamp-req create|--filter' 'pstamp-req create|--size' 'pstamp-req create|--img-type' 'pstamp-req create|--req-type' 'pstamp-req create|--project' 'pstamp-req create|--survey' 'pstamp-req create|--release' 'pstamp-req create|--data-group' 'pstamp-req create|--tess-id' 'pstamp-req create|--run-type' 'pstamp-req create|--options' 'pstamp-req create|--comment' 'pstamp-req create|-f' 'pstamp-req create|--format' 'pstamp-req validate|--project' 'pstamp-req validate|-f' 'pstamp-req validate|--format' 'pstamp-req cut|--ra' 'pstamp-req cut|--dec' 'pstamp-req cut|--x' 'pstamp-req cut|--y' 'pstamp-req cut|--size' 'pstamp-req cut|--request' 'pstamp-req cut|--images' 'pstamp-req cut|--outdir' 'pstamp-req cut|--name' 'pstamp-req cut|--hdu' 'pstamp-req cut|--mask' 'pstamp-req cut|--variance' 'pstamp-req cut|--planes' 'pstamp-req cut|--compress' 'pstamp-req cut|--workers' 'pstamp-req cut|--scheduler' 'pstamp-req cut|-f' 'pstamp-req cut|--format' 'mopscat build|--diff-id' 'mopscat build|-o' 'mopscat build|--output' 'mopscat build|--zp' 'mopscat build|--zp-err' 'mopscat build|--difftype' 'mopscat build|--diff-skyfile-id' 'mopscat build|--exp-name' 'mopscat build|--exp-id' 'mopscat build|--cmf-version' 'mopscat build|--camera' 'mopscat build|--night' 'mopscat build|--outdir' 'mopscat build|--workers' 'mopscat build|--scheduler' 'mopscat build|-f' 'mopscat build|--format' 'mopscat check|-f' 'mopscat check|--format' 'mopscat show|-f' 'mopscat show|--format' 'testchunk list|-f' 'testchunk list|--format' 'testchunk define|--tag' 'testchunk define|-f' 'testchunk define|--format' 'testchunk compare|--radius' 'testchunk compare|--threshold' 'testchunk compare|--plots' 'testchunk compare|-f' 'testchunk compare|--format' 'demo|--night' 'demo|--files' 'db check|-f' 'db check|--format' 'config show|-f' 'config show|--format'
set -g __mopstool_global_valopts '--db' '--pstamp-db' '--dbname' '--config' '--log-file'

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
complete -c mopstool -s v -l verbose -d 'More detail on stderr, e.g. which databases are used (-vv: debug detail)'
complete -c mopstool -s q -l quiet -d 'Only errors on stderr: no notes, no progress'
complete -c mopstool -l log-file -r -F -d 'Append a JSON-lines record of notes, errors and the exit code to FILE (for cron)'
complete -c mopstool -l debug -d 'Show tracebacks (env MOPSTOOL_DEBUG=1)'

# mopstool
complete -c mopstool -n '__mopstool_using \'\'' -l version -d 'Print the version and exit'
complete -c mopstool -n '__mopstool_using \'\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'\'' -a 'czar' -d 'The early-morning check: per target and stage (chip, cam, warp, diff,...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'lostvisits' -d 'Visits of every field group (object + chunk + filter) of the diffable...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'diffpairs' -d 'The WW diff plan of the night per field group: regular pairs, desperate...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'night' -d 'The by-exposure status table of the night: one row per exposure (exp_name,...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'report' -d 'Write the night report: one self-contained HTML page (no network: inline...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'faults' -d 'Faulted components across stages, grouped by fault code with meanings,...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'runs' -d 'List runs of a stage, newest first, with component, fault and bad-quality counts'
complete -c mopstool -n '__mopstool_using \'\'' -a 'show' -d 'Show one run with its components, states, and faults with their meanings'
complete -c mopstool -n '__mopstool_using \'\'' -a 'definebyquery' -d 'Define new chip runs from raw exposures (chiptool -definebyquery), or warp...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'updaterun' -d 'Change run columns in bulk (chiptool/warptool/difftool -updaterun): one UPDATE'
complete -c mopstool -n '__mopstool_using \'\'' -a 'setupdate' -d 'Queue cleaned components for regeneration (chiptool -setimfiletoupdate,...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'revert' -d 'Revert faulted components (chiptool -revertprocessedimfile, warptool...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'fixbroken' -d 'Find broken products (fault 26, error_* data states, stamp jobs stopped with...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'drop' -d 'Mark processed components as done but bad (chiptool -dropprocessedimfile):...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'publish' -d 'Queue finished diffs for the MOPS DataStore (pubtool -definerun): one...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'labels' -d 'List, add and update labels (Label: priority, active) and block/unblock...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'cleanup' -d 'Move full runs of nights older than the retention to goto_cleaned (label...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'pstamp-req' -d 'Postage-stamp requests: list/show/stop/clean/revert/backlog/cleanup in the...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'mopscat' -d 'Build, check and summarise .mops catalogs (the ppMops replacement, revised...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'testchunk' -d 'MOPS test chunks: reprocess a comparison set under a new label and compare...'
complete -c mopstool -n '__mopstool_using \'\'' -a 'chiptool' -d 'Run a chiptool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'warptool' -d 'Run a warptool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'difftool' -d 'Run a difftool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'pstamptool' -d 'Run a pstamptool recipe unchanged (single-dash options, exactly one mode)'
complete -c mopstool -n '__mopstool_using \'\'' -a 'demo' -d 'Load a synthetic night (and the night before) with the troubles the czar meets'
complete -c mopstool -n '__mopstool_using \'\'' -a 'db' -d 'Create or check the database schema'
complete -c mopstool -n '__mopstool_using \'\'' -a 'config' -d 'Show the merged configuration'

# mopstool czar
complete -c mopstool -n '__mopstool_using \'czar\'' -l night -x -d 'The night: a UTC date YYYY-MM-DD (today, yesterday), an MJD (58309) or a...'
complete -c mopstool -n '__mopstool_using \'czar\'' -s t -l target -x -a 'OSS MSS ESS EU Bright ThreePi QUB.lv FSS' -d 'Survey target(s): OSS, MSS, ESS, EU, FSS'
complete -c mopstool -n '__mopstool_using \'czar\'' -l chunk -x -d 'Only this chunk (the exposure comment up to its first space, e.g....'
complete -c mopstool -n '__mopstool_using \'czar\'' -l fixes -d 'Print only the fix commands, one per line, each once (review them, or pipe...'
complete -c mopstool -n '__mopstool_using \'czar\'' -l watch -d 'Refresh in place on the terminal (Ctrl-C stops); needs a terminal'
complete -c mopstool -n '__mopstool_using \'czar\'' -l every -x -d 'Refresh interval of --watch: 30s, 5m (default), 1h'
complete -c mopstool -n '__mopstool_using \'czar\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'czar\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'czar\'' -s h -l help -d 'Show this message and exit'

# mopstool lostvisits
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -l night -x -d 'The night: a UTC date YYYY-MM-DD (today, yesterday), an MJD (58309) or a...'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -s t -l target -x -a 'OSS MSS ESS EU Bright ThreePi QUB.lv FSS' -d 'Survey target(s): OSS, MSS, ESS, EU, FSS'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -l filter -x -d 'Filter, e.g. w or w.00000'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -l chunk -x -d 'Only this chunk (the exposure comment up to its first space, e.g....'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -l columns -x -d 'Comma-separated fields of the listing, in order (table and csv columns; the...'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'lostvisits\'' -s h -l help -d 'Show this message and exit'

# mopstool diffpairs
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l night -x -d 'The night: a UTC date YYYY-MM-DD (today, yesterday), an MJD (58309) or a...'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -s t -l target -x -a 'OSS MSS ESS EU Bright ThreePi QUB.lv FSS' -d 'Survey target(s): OSS, MSS, ESS, EU, FSS'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l filter -x -d 'Filter, e.g. w or w.00000'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l chunk -x -d 'Only this chunk (the exposure comment up to its first space, e.g....'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l desperate -d 'Make desperate pairs due now (otherwise: desdiffdt hours after the chunk\'s...'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l ws -d 'Also plan warp-stack diffs against the target\'s template stacks'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l define -d 'Create the planned diffs (as difftool -definewarpwarp -backwards)'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l status -x -d 'Only pairs in this status (exists, planned, waiting, defined, unplanned);...'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l columns -x -d 'Comma-separated fields of the listing, in order (table and csv columns; the...'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'diffpairs\'' -s h -l help -d 'Show this message and exit'

# mopstool night
complete -c mopstool -n '__mopstool_using \'night\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'night\'' -s t -l target -x -a 'OSS MSS ESS EU Bright ThreePi QUB.lv FSS' -d 'Survey target(s): OSS, MSS, ESS, EU, FSS'
complete -c mopstool -n '__mopstool_using \'night\'' -l chunk -x -d 'Only this chunk (the exposure comment up to its first space, e.g....'
complete -c mopstool -n '__mopstool_using \'night\'' -l watch -d 'Refresh in place on the terminal (Ctrl-C stops); needs a terminal'
complete -c mopstool -n '__mopstool_using \'night\'' -l every -x -d 'Refresh interval of --watch: 30s, 5m (default), 1h'
complete -c mopstool -n '__mopstool_using \'night\'' -l columns -x -d 'Comma-separated fields of the listing, in order (table and csv columns; the...'
complete -c mopstool -n '__mopstool_using \'night\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'night\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'night\'' -s h -l help -d 'Show this message and exit'

# mopstool report
complete -c mopstool -n '__mopstool_using \'report\'' -s o -l output -r -F -d 'HTML file to write (replaced atomically); - for stdout'
complete -c mopstool -n '__mopstool_using \'report\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'report\'' -l force -d 'Overwrite the file even if mopstool report did not write it'
complete -c mopstool -n '__mopstool_using \'report\'' -s h -l help -d 'Show this message and exit'

# mopstool faults
complete -c mopstool -n '__mopstool_using \'faults\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'faults\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'faults\'' -s g -l data-group -x -d 'data_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'faults\'' -l stage -x -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' -d 'Stage (chip, cam, fake, warp, stack, diff, publish); repeat'
complete -c mopstool -n '__mopstool_using \'faults\'' -l fault -x -d 'Fault code; repeat to OR'
complete -c mopstool -n '__mopstool_using \'faults\'' -l id -x -d 'Run id; repeat for several'
complete -c mopstool -n '__mopstool_using \'faults\'' -l components -d 'One row per faulted component instead of groups'
complete -c mopstool -n '__mopstool_using \'faults\'' -l columns -x -d 'Comma-separated fields of the listing, in order (table and csv columns; the...'
complete -c mopstool -n '__mopstool_using \'faults\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'faults\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'faults\'' -s h -l help -d 'Show this message and exit'

# mopstool runs
complete -c mopstool -n '__mopstool_using \'runs\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -s s -l state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'Run state; repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -s g -l data-group -x -d 'data_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -l dist-group -x -d 'dist_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'runs\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'runs\'' -l id -x -d 'Run id; repeat for several'
complete -c mopstool -n '__mopstool_using \'runs\'' -l limit -x -d 'At most this many rows'
complete -c mopstool -n '__mopstool_using \'runs\'' -l columns -x -d 'Comma-separated fields of the listing, in order (table and csv columns; the...'
complete -c mopstool -n '__mopstool_using \'runs\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'runs\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'runs\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'runs\'' -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent'

# mopstool show
complete -c mopstool -n '__mopstool_using \'show\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'show\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'show\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'show\'' -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent'

# mopstool definebyquery
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -s e -l exp-name -r -F -d 'Exposure name (=); repeat, or a file / \'-\' (stdin) with one name per line'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l exp-id -x -d 'rawExp.exp_id; repeat for several'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l dateobs-begin -x -d 'dateobs >= this UTC time (ISO)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l dateobs-end -x -d 'dateobs <= this UTC time (ISO)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l filter -x -d 'Filter (SQL LIKE, e.g. \'w%\'); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l obs-mode -x -d 'obs_mode (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l object -x -d 'Object (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l comment -x -d 'Exposure comment (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l comment-skip -x -d 'Exclude comments matching this (NOT LIKE)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l inst -x -d 'rawExp.camera (=)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l telescope -x -d 'rawExp.telescope (=)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l exp-tag -x -d 'rawExp.exp_tag (=)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l filelevel -r -F -d 'rawExp.filelevel (=)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l data-state -x -d 'rawExp.state (=)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l exp-type -x -d 'rawExp.exp_type (\'any\' for every type)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Chip: newExp.label; warp: fakeRun.label (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l unique -d 'Skip exposures that already have a run with the new label'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l copy -d 'Chip: define copies of the exposures\' existing chip runs (chiptool...'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l copy-of-label -x -d 'Copy: the old chipRun\'s label (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l copy-of-data-group -x -d 'Copy: the old chipRun\'s data_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l copy-of-state -x -d 'Copy: the old chipRun\'s state (=)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l limit -x -d 'At most this many rows'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l all -d 'Allow a selection with no search term'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l stage -x -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' -d 'chip (chiptool) or warp (warptool variant: from full fakeRuns)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l fake-id -x -d 'Warp: fakeRun.fake_id; repeat'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l cam-id -x -d 'Warp: camRun.cam_id; repeat'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l chip-id -x -d 'Warp: chipRun.chip_id; repeat'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l reduction -x -d 'Warp: fakeRun.reduction; repeat'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l preset -x -d 'Setter preset from the config [presets.NAME] (nomasktest, mehtest, lapfix, wfix)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l label-date -x -d '{date} of preset values, YYYY-MM-DD or YYYYMMDD (default today UTC)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-label -x -a '(__mopstool_labels)' -d 'Label of the new runs (required unless a preset gives it)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-workdir -r -F -d 'Workdir, e.g. neb://@HOST@.0/gpc1/{label} (required unless a preset gives...'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-data-group -x -d 'data_group (default: the label)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-dist-group -x -d 'dist_group (NULL stores SQL NULL)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-tess-id -x -d 'tess_id (default: inherited), e.g. RINGS.V3'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-end-stage -x -d 'end_stage (default: inherited)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-reduction -x -d 'reduction (default: inherited)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-expgroup -x -d 'expgroup'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-dvodb -x -d 'dvodb (default: inherited)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l set-note -x -d 'note'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l airmass-min -x -d 'rawExp.airmass >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l airmass-max -x -d 'rawExp.airmass < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l ra-min -x -d 'rawExp.ra >= this (degrees)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l ra-max -x -d 'rawExp.ra < this (degrees)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l decl-min -x -d 'rawExp.decl >= this (degrees)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l decl-max -x -d 'rawExp.decl < this (degrees)'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l exp-time-min -x -d 'rawExp.exp_time >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l exp-time-max -x -d 'rawExp.exp_time < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l sat-pixel-frac-min -x -d 'rawExp.sat_pixel_frac >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l sat-pixel-frac-max -x -d 'rawExp.sat_pixel_frac < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l bg-min -x -d 'rawExp.bg >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l bg-max -x -d 'rawExp.bg < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l bg-stdev-min -x -d 'rawExp.bg_stdev >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l bg-stdev-max -x -d 'rawExp.bg_stdev < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l bg-mean-stdev-min -x -d 'rawExp.bg_mean_stdev >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l bg-mean-stdev-max -x -d 'rawExp.bg_mean_stdev < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l alt-min -x -d 'rawExp.alt >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l alt-max -x -d 'rawExp.alt < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l az-min -x -d 'rawExp.az >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l az-max -x -d 'rawExp.az < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l ccd-temp-min -x -d 'rawExp.ccd_temp >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l ccd-temp-max -x -d 'rawExp.ccd_temp < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l posang-min -x -d 'rawExp.posang >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l posang-max -x -d 'rawExp.posang < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l sun-angle-min -x -d 'rawExp.sun_angle >= this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -l sun-angle-max -x -d 'rawExp.sun_angle < this'
complete -c mopstool -n '__mopstool_using \'definebyquery\'' -s h -l help -d 'Show this message and exit'

# mopstool updaterun
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l id -x -d 'Run id; repeat for several'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s s -l state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'Run state; repeat to OR'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s g -l data-group -x -d 'data_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l dist-group -x -d 'dist_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l set-state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'New run state (new, full, update, goto_cleaned, drop, ...)'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l set-label -x -a '(__mopstool_labels)' -d 'New label'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l set-data-group -x -d 'New data_group (NULL: SQL NULL)'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l set-dist-group -x -d 'New dist_group (NULL: SQL NULL)'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l set-note -x -d 'New note (NULL: SQL NULL)'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'updaterun\'' -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent'

# mopstool setupdate
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l chip-id -x -d 'chip_id (chip stage); repeat'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l warp-id -x -d 'warp_id (warp stage); repeat'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l diff-id -x -d 'diff_id (diff stage); repeat'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l id -x -d 'Run id; repeat for several'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l class-id -x -d 'Chip component (XY33); repeat'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l skycell-id -x -d 'Warp/diff component; repeat'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l update-mode -x -d 'chipRun.update_mode (chip; always written, default 0)'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l set-label -x -a '(__mopstool_labels)' -d 'Label of the updated runs, e.g. ps_ud_WEB'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l from-goto-cleaned -d 'First move goto_cleaned runs to update (the pstamp recipe)'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l fault -x -d 'Only 26: also take components with fault 26 (gone)'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'setupdate\'' -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent'

# mopstool revert
complete -c mopstool -n '__mopstool_using \'revert\'' -l id -x -d 'Run id; repeat for several'
complete -c mopstool -n '__mopstool_using \'revert\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'revert\'' -s g -l data-group -x -d 'data_group (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'revert\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'revert\'' -l fault -x -d 'Only this fault code; repeat to OR'
complete -c mopstool -n '__mopstool_using \'revert\'' -l component -x -d 'class_id / skycell_id; repeat'
complete -c mopstool -n '__mopstool_using \'revert\'' -l all -d 'Allow reverting without a selector'
complete -c mopstool -n '__mopstool_using \'revert\'' -l delete-gone -d 'Also delete fault-26 (gone) components of new runs, as chiptool...'
complete -c mopstool -n '__mopstool_using \'revert\'' -l skyfiles-only -d 'Warp: leave faulted overlap rows (warpSkyCellMap) alone, as warptool...'
complete -c mopstool -n '__mopstool_using \'revert\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'revert\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'revert\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'revert\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'revert\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'revert\'' -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent'

# mopstool fixbroken
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l exp-name -x -d 'Reprocess this exposure; repeat for several'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l chip-id -x -d 'This broken chip run; repeat for several'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l warp-id -x -d 'This broken warp run; repeat for several'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l diff-id -x -d 'This broken diff run (its input and template exposures are reprocessed);...'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l label-date -x -d 'The {date} of the fix label/workdir, YYYY-MM-DD (default today UTC)'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l limit -x -d 'At most this many rows'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -a 'status' -d 'Every recorded fix and its replacement\'s progress'
complete -c mopstool -n '__mopstool_using \'fixbroken\'' -a 'finish' -d 'Send broken originals whose replacements\' warps are full to cleanup...'

# mopstool fixbroken status
complete -c mopstool -n '__mopstool_using \'fixbroken status\'' -l open -d 'Only fixes not finished yet'
complete -c mopstool -n '__mopstool_using \'fixbroken status\'' -l limit -x -d 'At most this many rows'
complete -c mopstool -n '__mopstool_using \'fixbroken status\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'fixbroken status\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'fixbroken status\'' -s h -l help -d 'Show this message and exit'

# mopstool fixbroken finish
complete -c mopstool -n '__mopstool_using \'fixbroken finish\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'fixbroken finish\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'fixbroken finish\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'fixbroken finish\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'fixbroken finish\'' -s h -l help -d 'Show this message and exit'

# mopstool drop
complete -c mopstool -n '__mopstool_using \'drop\'' -l class-id -x -d 'Component (XY33); repeat'
complete -c mopstool -n '__mopstool_using \'drop\'' -l quality -x -d 'Quality to record (non-zero: done but bad)'
complete -c mopstool -n '__mopstool_using \'drop\'' -l chip-id -x -d 'chip_id; repeat'
complete -c mopstool -n '__mopstool_using \'drop\'' -l cam-id -x -d 'cam_id: the chip run of this camera run; repeat'
complete -c mopstool -n '__mopstool_using \'drop\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'drop\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'drop\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'drop\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'drop\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'drop\'' -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent'

# mopstool publish
complete -c mopstool -n '__mopstool_using \'publish\'' -l diff-id -x -d 'Diff run to publish; repeat for several'
complete -c mopstool -n '__mopstool_using \'publish\'' -l night -x -d 'The night: a UTC date YYYY-MM-DD (today, yesterday), an MJD (58309) or a...'
complete -c mopstool -n '__mopstool_using \'publish\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'publish\'' -l client -x -d 'publishClient name or id (default: every active diff client)'
complete -c mopstool -n '__mopstool_using \'publish\'' -l rerun -d 'Publish again diffs that have a publishRun'
complete -c mopstool -n '__mopstool_using \'publish\'' -l set-label -x -a '(__mopstool_labels)' -d 'Label of the new publishRuns (default: the diff\'s label)'
complete -c mopstool -n '__mopstool_using \'publish\'' -l revert -d 'Instead of publishing: clear failed publish attempts (pubtool -revert:...'
complete -c mopstool -n '__mopstool_using \'publish\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'publish\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'publish\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'publish\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'publish\'' -s h -l help -d 'Show this message and exit'

# mopstool labels
complete -c mopstool -n '__mopstool_using \'labels\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'labels\'' -a 'list' -d 'Labels with priority, active flag and the stages that block them'
complete -c mopstool -n '__mopstool_using \'labels\'' -a 'add' -d 'Add a Label row (labeltool -definelabel)'
complete -c mopstool -n '__mopstool_using \'labels\'' -a 'update' -d 'Change priority, active flag or comment of labels (labeltool -updatelabel)'
complete -c mopstool -n '__mopstool_using \'labels\'' -a 'delete' -d 'Delete Label rows (labeltool -deletelabel); runs keep their label'
complete -c mopstool -n '__mopstool_using \'labels\'' -a 'block' -d 'Block labels: their new runs of the stage are not processed (-block)'
complete -c mopstool -n '__mopstool_using \'labels\'' -a 'unblock' -d 'Unblock labels (-unblock)'

# mopstool labels list
complete -c mopstool -n '__mopstool_using \'labels list\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'labels list\'' -l counts -d 'Add run counts per stage'
complete -c mopstool -n '__mopstool_using \'labels list\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'labels list\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'labels list\'' -s h -l help -d 'Show this message and exit'

# mopstool labels add
complete -c mopstool -n '__mopstool_using \'labels add\'' -s p -l priority -x -d 'Priority (higher first)'
complete -c mopstool -n '__mopstool_using \'labels add\'' -l inactive -d 'Create the label inactive'
complete -c mopstool -n '__mopstool_using \'labels add\'' -l comment -x -d 'Comment'
complete -c mopstool -n '__mopstool_using \'labels add\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'labels add\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'labels add\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'labels add\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'labels add\'' -s h -l help -d 'Show this message and exit'

# mopstool labels update
complete -c mopstool -n '__mopstool_using \'labels update\'' -s p -l priority -x -d 'New priority'
complete -c mopstool -n '__mopstool_using \'labels update\'' -l active -l inactive -d 'Switch on or off'
complete -c mopstool -n '__mopstool_using \'labels update\'' -l comment -x -d 'New comment (NULL clears)'
complete -c mopstool -n '__mopstool_using \'labels update\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'labels update\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'labels update\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'labels update\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'labels update\'' -s h -l help -d 'Show this message and exit'

# mopstool labels delete
complete -c mopstool -n '__mopstool_using \'labels delete\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'labels delete\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'labels delete\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'labels delete\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'labels delete\'' -s h -l help -d 'Show this message and exit'

# mopstool labels block
complete -c mopstool -n '__mopstool_using \'labels block\'' -l stage -x -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' -d 'Stage whose block table to change (chip, cam, fake, warp); repeat'
complete -c mopstool -n '__mopstool_using \'labels block\'' -l all-stages -d 'Every stage with a block table'
complete -c mopstool -n '__mopstool_using \'labels block\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'labels block\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'labels block\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'labels block\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'labels block\'' -s h -l help -d 'Show this message and exit'

# mopstool labels unblock
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -l stage -x -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' -d 'Stage whose block table to change (chip, cam, fake, warp); repeat'
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -l all-stages -d 'Every stage with a block table'
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'labels unblock\'' -s h -l help -d 'Show this message and exit'

# mopstool cleanup
complete -c mopstool -n '__mopstool_using \'cleanup\'' -l as-of -x -d 'Reference UTC date (default today): a night N is cleaned for a stage when N...'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -l stage -x -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' -d 'Only this stage (chip, cam, warp, diff); repeat for several'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -l target -x -a 'OSS MSS ESS EU Bright ThreePi QUB.lv FSS' -d 'Only this survey target (or ps_update for ps_ud_% runs); repeat'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -l batch-size -x -d 'Runs per transaction (default [cleanup] batch_size)'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -l show-held -d 'Also list the old runs held back, with the reason'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'cleanup\'' -a 'status' -d 'Counts per stage and cleanup state, and the oldest uncleaned night'

# mopstool cleanup status
complete -c mopstool -n '__mopstool_using \'cleanup status\'' -l as-of -x -d 'Reference UTC date (default today): a night N is cleaned for a stage when N...'
complete -c mopstool -n '__mopstool_using \'cleanup status\'' -l stage -x -a 'chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' -d 'Only this stage (chip, cam, warp, diff); repeat for several'
complete -c mopstool -n '__mopstool_using \'cleanup status\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'cleanup status\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'cleanup status\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'list' -d 'List stamp requests, newest first, with job counts (pstamptool -listreq)'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'show' -d 'Show one request with its jobs, dependents (image updates), files, and fault...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'stop' -d 'Set requests to \'stop\' (pstamptool -updatereq -set_state stop -req_id N)'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'clean' -d 'Queue requests for cleanup (pstamptool -updatereq -set_state goto_cleaned...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'update' -d 'Change requests chosen by selectors (pstamptool -updatereq); always bumps...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'cleanup' -d 'Stopped requests unchanged for longer than --older-than -> goto_cleaned...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'revert' -d 'Clear transient faults (< 10) of requests, jobs and dependents, like the...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'backlog' -d 'What the stamp server still has to do, per label and state: requests waiting...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'create' -d 'Write a PS1_PS_REQUEST version-2 request file from coordinates or a CSV/ECSV...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'validate' -d 'Check a request file like the server\'s parser: each bad row is listed with...'
complete -c mopstool -n '__mopstool_using \'pstamp-req\'' -a 'cut' -d 'Cut stamps from uncompressed images exactly like ppstamp (its pixel...'

# mopstool pstamp-req list
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l id -x -d 'req_id; repeat for several'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -s s -l state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'Request state (new, run, parsed, stop, goto_cleaned, cleaned); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l name -x -d 'Request name (SQL LIKE); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l since -x -d 'Registered at or after: UTC date/time, or a duration back (2d, 36h)'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l fault -x -d 'Request fault code; repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l user -x -d 'Requester (EMAIL); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l limit -x -d 'At most this many rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req list\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req show
complete -c mopstool -n '__mopstool_using \'pstamp-req show\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req show\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req show\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req stop
complete -c mopstool -n '__mopstool_using \'pstamp-req stop\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'pstamp-req stop\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req stop\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req stop\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req stop\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req clean
complete -c mopstool -n '__mopstool_using \'pstamp-req clean\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'pstamp-req clean\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req clean\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req clean\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req clean\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req update
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l id -x -d 'req_id; repeat'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l req-id-max -x -d 'req_id <= this'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -s s -l state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'Request state (new, run, parsed, stop, goto_cleaned, cleaned); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l name -x -d 'Request name (SQL LIKE)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l fault -x -d 'Request fault code'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l older-than -x -d 'Last change (timestamp) at least this old (14d, 36h)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'New state'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-label -x -a '(__mopstool_labels)' -d 'New label'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-fault -x -d 'New fault code'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l clear-fault -d 'Set fault to 0'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l not-req-id -x -d 'req_id != this'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l username -x -d 'username (=)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l req-type -x -d 'reqType (=)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l timestamp-begin -x -d 'timestamp >= this UTC time (ISO)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l timestamp-end -x -d 'timestamp <= this UTC time (ISO)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-out-product -x -d 'New outProduct'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-outdir -r -F -d 'New outdir'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-uri -x -d 'New uri'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-name -x -d 'New name'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-username -x -d 'New username'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l set-req-type -x -d 'New reqType'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l as-pstamptool -d 'pstamptool\'s rules: stop also cleaned requests, bump requests already in the...'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req update\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req cleanup
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -l older-than -x -d 'Age of the last change (14d, 36h, 2w; bare number = days)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req cleanup\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req revert
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -l id -x -d 'Same as the REQ_IDS arguments'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -s s -l state -x -a 'new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' -d 'Request state (new, run, parsed, stop, goto_cleaned, cleaned); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -l fault -x -d 'Revert this fault code only (also codes >= 10, which are otherwise final)'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -l what -x -d 'requests, jobs, dependents (repeat; default all three)'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -l clear-fault-count -d 'Also revert jobs/dependents that failed [pstamp] max_fault_count times, and...'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -l as-pstamptool -d 'Requests as pstamptool -revertreq: any fault is cleared and timestamp is...'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req revert\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req backlog
complete -c mopstool -n '__mopstool_using \'pstamp-req backlog\'' -s l -l label -x -a '(__mopstool_labels)' -d 'Label (SQL LIKE, % wildcard); repeat to OR'
complete -c mopstool -n '__mopstool_using \'pstamp-req backlog\'' -l parse-limit -x -d 'Requests the server parses per cycle (default [pstamp] parse_limit, 20)'
complete -c mopstool -n '__mopstool_using \'pstamp-req backlog\'' -l check -d 'Exit 3 also when anything else is stuck (jobs waiting on image updates,...'
complete -c mopstool -n '__mopstool_using \'pstamp-req backlog\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req backlog\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req backlog\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req create
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -s o -l output -r -F -d 'Request file to write (default <REQ_NAME>.fits)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l req-name -r -F -d 'REQ_NAME, unique on the server (default: the output file name)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l email -x -d 'EMAIL user@domain (default [pstamp] email)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l action -x -d 'PROCESS or PREVIEW'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l ra -x -d 'RA (deg or HH:MM:SS); repeat with --dec for several rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l dec -x -d 'Dec (deg or DD:MM:SS)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l from -x -d 'CSV/ECSV of rows (ra, dec, mjd, filter, size, comment or any request column)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l mjd -x -d 'Observation MJD for --ra/--dec rows (MJD_MIN/MAX = MJD -/+ --mjd-window; 0:...'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l mjd-window -x -d 'Half width of the MJD window in days (default [pstamp] mjd_window)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l filter -x -d 'REQFILT, e.g. w or w.00000'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l size -x -d 'Stamp width = height (pixels; arcsec with --arcsec)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l arcsec -d 'Sizes in arcseconds (COORD_MASK 0)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l img-type -x -d 'IMG_TYPE: raw, chip, warp, diff, stack, stack_summary (default warp)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l req-type -x -d 'REQ_TYPE (default bycoord)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l project -x -d 'PROJECT (default gpc1)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l survey -x -d 'SURVEY_NAME, e.g. bypass for nightly data not in a release'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l release -x -d 'IPP_RELEASE'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l data-group -x -d 'DATA_GROUP (LIKE)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l tess-id -x -d 'TESS_ID'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l run-type -x -d 'RUN_TYPE'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l options -x -d 'OPTION_MASK by names (image,mask,variance,jpeg,uncompressed,do_not_wait,...)...'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l comment -x -d 'COMMENT for --ra/--dec rows'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l overwrite -d 'Replace an existing file'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req create\'' -s h -l help -d 'Show this message and exit'

# mopstool pstamp-req validate
complete -c mopstool -n '__mopstool_using \'pstamp-req validate\'' -l project -x -d 'Known PROJECT names (default [pstamp] projects; empty: PROJECT is not...'
complete -c mopstool -n '__mopstool_using \'pstamp-req validate\'' -l check-db -d 'Also check against the request database: known projects (pstampProject) and...'
complete -c mopstool -n '__mopstool_using \'pstamp-req validate\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req validate\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req validate\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'pstamp-req validate\'' -F

# mopstool pstamp-req cut
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l ra -x -d 'Centre RA (deg); repeat with --dec'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l dec -x -d 'Centre Dec (deg)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l x -x -d 'Pixel centre x, as ppstamp takes it (truncated to an integer; pixel i spans...'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l y -x -d 'Pixel centre y (as --x)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l size -x -d 'Width[xHeight], pixels, or arcsec with a trailing \'arcsec\'/\'"\' (e.g. 100,...'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l request -r -F -d 'Cut every row of this request file instead'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l images -r -F -d 'With --request: image files or directories to match rows against'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l outdir -r -F -d 'Output directory (default: the current one)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l name -x -d 'Output base name per stamp (default from the centre)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l hdu -x -d 'Image HDU (index or EXTNAME)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l mask -r -F -d 'Mask image (default: MASK extension or <base>.mk.fits)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l variance -r -F -d 'Variance image (default: VARIANCE extension or <base>.wt.fits)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l planes -x -d 'Planes to cut when present: image,mask,variance'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l compress -x -d 'none or rice'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l split -d 'ppstamp file layout: <name>.fits, <name>.mk.fits, <name>.wt.fits'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l center-off-chip -d 'Cut even when the centre is off the image (partial overlap)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l workers -x -d 'Cut in N processes on this node (default: the cores)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l scheduler -x -d 'Cut on the Dask distributed scheduler at ADDRESS (host:port); needs the...'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'pstamp-req cut\'' -F

# mopstool mopscat
complete -c mopstool -n '__mopstool_using \'mopscat\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'mopscat\'' -a 'build' -d 'Build the .mops catalog of one exposure from its diff CMF files'
complete -c mopstool -n '__mopstool_using \'mopscat\'' -a 'check' -d 'Validate a .mops file (exit 3 when it has problems)'
complete -c mopstool -n '__mopstool_using \'mopscat\'' -a 'show' -d 'Summarise a .mops file: rows, rows per skycell and the header'

# mopstool mopscat build
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l diff-id -x -d 'Diff run to read from the database; repeat for several diffs of the exposure'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l inverse -d 'The inverse direction (<path_base>.inv.cmf, the second exposure)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l merge -d 'One product from the WW and WS diffs of the same exposure (rows tagged by...'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -s o -l output -r -F -d 'Output .mops file (default from [mopscat] output, in the current directory)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l zp -x -d 'Zero point to add to PSF_INST_MAG (default: zpt_obs + 2.5 log10(exp_time) of...'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l zp-err -x -d 'Zero-point error for MAGZPERR (default camProcessedExp.zpt_stdev)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l difftype -r -F -d 'Diff type of CMF file arguments: WW (default), WS, SW or SS'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l diff-skyfile-id -x -d 'IMAGEID of a single CMF file whose header lacks it'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l exp-name -r -F -d 'Exposure name (files: default the CMF\'s FPA.OBS)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l exp-id -x -d 'Exposure id (files: header EXP_ID; --merge: the exposure to pick)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l cmf-version -x -d 'Write this PS1_DV version (1-5) instead of the inputs\' version'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l camera -x -d 'Camera for OBSCODE: GPC1 (F51) or GPC2 (F52); default from the exposure'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l night -x -d 'UTC date of the night, YYYY-MM-DD (or today, yesterday)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l outdir -r -F -d 'With --night: directory for the products (default: the current one)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l workers -x -d 'With --night: build in N processes on this node (default: the cores)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l scheduler -x -d 'With --night: build on the Dask distributed scheduler at ADDRESS...'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'mopscat build\'' -F

# mopstool mopscat check
complete -c mopstool -n '__mopstool_using \'mopscat check\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'mopscat check\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'mopscat check\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'mopscat check\'' -F

# mopstool mopscat show
complete -c mopstool -n '__mopstool_using \'mopscat show\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'mopscat show\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'mopscat show\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'mopscat show\'' -F

# mopstool testchunk
complete -c mopstool -n '__mopstool_using \'testchunk\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'testchunk\'' -a 'list' -d 'The configured test sets ([testchunk.sets.NAME]): chunk, night, filter, how...'
complete -c mopstool -n '__mopstool_using \'testchunk\'' -a 'define' -d 'Reprocess a test set under a new label: chip runs (end stage warp) through...'
complete -c mopstool -n '__mopstool_using \'testchunk\'' -a 'compare' -d 'Match the detections of A and B per exposure and skycell (mutual nearest...'

# mopstool testchunk list
complete -c mopstool -n '__mopstool_using \'testchunk list\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'testchunk list\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'testchunk list\'' -s h -l help -d 'Show this message and exit'

# mopstool testchunk define
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -l tag -x -d 'Tag of this processing, e.g. the ops tag (label...'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -l diffs -d 'Also define the set\'s WW diffs (as diffpairs --define) for warps that are full'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -l ws -d 'With --diffs: also the warp-stack diffs (label <label>.WS)'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -s n -l dry-run -d 'Show the plan; write nothing'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -s y -l yes -d 'Do not ask before changing many rows'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'testchunk define\'' -s h -l help -d 'Show this message and exit'

# mopstool testchunk compare
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -l radius -x -d 'Match radius in arcsec (default [testchunk] match_radius_arcsec)'
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -l threshold -x -d 'Override a limit of [testchunk.thresholds], NAME=VALUE (negative disables);...'
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -l plots -r -F -d 'Write PNG plots (offsets, counts per skycell, offset vs magnitude, GCR) into...'
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'testchunk compare\'' -F

# mopstool chiptool
complete -c mopstool -n '__mopstool_using \'chiptool\'' -l help -d 'Show this message and exit'

# mopstool warptool
complete -c mopstool -n '__mopstool_using \'warptool\'' -l help -d 'Show this message and exit'

# mopstool difftool
complete -c mopstool -n '__mopstool_using \'difftool\'' -l help -d 'Show this message and exit'

# mopstool pstamptool
complete -c mopstool -n '__mopstool_using \'pstamptool\'' -l help -d 'Show this message and exit'

# mopstool demo
complete -c mopstool -n '__mopstool_using \'demo\'' -l reset -d 'Drop and recreate the demo database'
complete -c mopstool -n '__mopstool_using \'demo\'' -l night -x -d 'UTC date of the demo night (default 2018-07-10)'
complete -c mopstool -n '__mopstool_using \'demo\'' -l files -r -F -d 'Directory for the demo\'s CMF files (default: beside the database)'
complete -c mopstool -n '__mopstool_using \'demo\'' -s h -l help -d 'Show this message and exit'

# mopstool db
complete -c mopstool -n '__mopstool_using \'db\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'db\'' -a 'init' -d 'Create the gpc1 and pstamp schema on an empty (scratch or SQLite) database'
complete -c mopstool -n '__mopstool_using \'db\'' -a 'check' -d 'Compare the live database(s) with mopstool\'s models of the IPP tables:...'

# mopstool db init
complete -c mopstool -n '__mopstool_using \'db init\'' -l exists-ok -d 'Allow a database that already holds a gpc1 schema (adds missing tables only)'
complete -c mopstool -n '__mopstool_using \'db init\'' -s h -l help -d 'Show this message and exit'

# mopstool db check
complete -c mopstool -n '__mopstool_using \'db check\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'db check\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'db check\'' -s h -l help -d 'Show this message and exit'

# mopstool config
complete -c mopstool -n '__mopstool_using \'config\'' -s h -l help -d 'Show this message and exit'
complete -c mopstool -n '__mopstool_using \'config\'' -a 'show' -d 'Print every configuration value with the layer it came from, the files read...'

# mopstool config show
complete -c mopstool -n '__mopstool_using \'config show\'' -s f -l format -x -a 'table json jsonl csv' -d 'Output format: table, json, jsonl or csv (env MOPSTOOL_FORMAT)'
complete -c mopstool -n '__mopstool_using \'config show\'' -l json -d 'Short for --format json'
complete -c mopstool -n '__mopstool_using \'config show\'' -s h -l help -d 'Show this message and exit'
