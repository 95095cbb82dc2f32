# bash completion for mopstool
# Generated from the command tree by `mopstool docs generate`; do not edit.
# Install: source this file, or copy it to
# ~/.local/share/bash-completion/completions/mopstool

_mopstool_global_valopts='--db --pstamp-db --dbname --config --log-file'

_mopstool_labels() {
    local cache=${XDG_CACHE_HOME:-$HOME/.cache}/mopstool/labels
    if [[ ! -f $cache || -n $(find "$cache" -mmin +5 2>/dev/null) ]]; then
        mkdir -p "${cache%/*}" 2>/dev/null && touch "$cache" 2>/dev/null
        (mopstool labels cache </dev/null >/dev/null 2>&1 &)
    fi
    [[ -r $cache ]] && cat -- "$cache"
    return 0
}

_mopstool_cmd_info() {
    # sets subcmds, opts, valopts, argkinds, variadic for the command path $1
    subcmds='' opts='' valopts='' argkinds='' variadic=0
    case "$1" in
        '')
            subcmds='czar lostvisits diffpairs night report faults runs show definebyquery updaterun setupdate revert fixbroken drop publish labels cleanup pstamp-req mopscat testchunk chiptool warptool difftool pstamptool demo db config'
            opts='--db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug --version -h --help'
            valopts='--db --pstamp-db --dbname --config --log-file'
            argkinds=''
            variadic=0 ;;
        'czar')
            subcmds=''
            opts='--night -t --target --chunk --fixes --watch --every -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--night -t --target --chunk --every -f --format'
            argkinds=''
            variadic=0 ;;
        'lostvisits')
            subcmds=''
            opts='--night -t --target --filter --chunk --columns -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--night -t --target --filter --chunk --columns -f --format'
            argkinds=''
            variadic=0 ;;
        'diffpairs')
            subcmds=''
            opts='--night -t --target --filter --chunk --desperate --ws --define --status -n --dry-run -y --yes --columns -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--night -t --target --filter --chunk --status --columns -f --format'
            argkinds=''
            variadic=0 ;;
        'night')
            subcmds=''
            opts='--night -t --target --chunk --watch --every --columns -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--night -t --target --chunk --every --columns -f --format'
            argkinds=''
            variadic=0 ;;
        'report')
            subcmds=''
            opts='-o --output --night --force -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-o --output --night'
            argkinds=''
            variadic=0 ;;
        'faults')
            subcmds=''
            opts='--night -l --label -g --data-group --stage --fault --id --components --columns -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--night -l --label -g --data-group --stage --fault --id --columns -f --format'
            argkinds=''
            variadic=0 ;;
        'runs')
            subcmds=''
            opts='-l --label -s --state -g --data-group --dist-group --night --id --limit --columns -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-l --label -s --state -g --data-group --dist-group --night --id --limit --columns -f --format'
            argkinds='choice'
            variadic=0 ;;
        'show')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='choice none'
            variadic=0 ;;
        'definebyquery')
            subcmds=''
            opts='-e --exp-name --exp-id --night --dateobs-begin --dateobs-end --filter --obs-mode --object --comment --comment-skip --inst --telescope --exp-tag --filelevel --data-state --exp-type -l --label --unique --copy --copy-of-label --copy-of-data-group --copy-of-state --limit --all --stage --fake-id --cam-id --chip-id --reduction --preset --label-date --set-label --set-workdir --set-data-group --set-dist-group --set-tess-id --set-end-stage --set-reduction --set-expgroup --set-dvodb --set-note -n --dry-run -y --yes -f --format --json --airmass-min --airmass-max --ra-min --ra-max --decl-min --decl-max --exp-time-min --exp-time-max --sat-pixel-frac-min --sat-pixel-frac-max --bg-min --bg-max --bg-stdev-min --bg-stdev-max --bg-mean-stdev-min --bg-mean-stdev-max --alt-min --alt-max --az-min --az-max --ccd-temp-min --ccd-temp-max --posang-min --posang-max --sun-angle-min --sun-angle-max -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-e --exp-name --exp-id --night --dateobs-begin --dateobs-end --filter --obs-mode --object --comment --comment-skip --inst --telescope --exp-tag --filelevel --data-state --exp-type -l --label --copy-of-label --copy-of-data-group --copy-of-state --limit --stage --fake-id --cam-id --chip-id --reduction --preset --label-date --set-label --set-workdir --set-data-group --set-dist-group --set-tess-id --set-end-stage --set-reduction --set-expgroup --set-dvodb --set-note -f --format --airmass-min --airmass-max --ra-min --ra-max --decl-min --decl-max --exp-time-min --exp-time-max --sat-pixel-frac-min --sat-pixel-frac-max --bg-min --bg-max --bg-stdev-min --bg-stdev-max --bg-mean-stdev-min --bg-mean-stdev-max --alt-min --alt-max --az-min --az-max --ccd-temp-min --ccd-temp-max --posang-min --posang-max --sun-angle-min --sun-angle-max'
            argkinds=''
            variadic=0 ;;
        'updaterun')
            subcmds=''
            opts='--id -l --label -s --state -g --data-group --dist-group --night --set-state --set-label --set-data-group --set-dist-group --set-note -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--id -l --label -s --state -g --data-group --dist-group --night --set-state --set-label --set-data-group --set-dist-group --set-note -f --format'
            argkinds='choice'
            variadic=0 ;;
        'setupdate')
            subcmds=''
            opts='--chip-id --warp-id --diff-id --id --class-id --skycell-id --update-mode --set-label --from-goto-cleaned --fault -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--chip-id --warp-id --diff-id --id --class-id --skycell-id --update-mode --set-label --fault -f --format'
            argkinds='choice'
            variadic=0 ;;
        'revert')
            subcmds=''
            opts='--id -l --label -g --data-group --night --fault --component --all --delete-gone --skyfiles-only -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--id -l --label -g --data-group --night --fault --component -f --format'
            argkinds='choice'
            variadic=0 ;;
        'fixbroken')
            subcmds='status finish'
            opts='--exp-name --chip-id --warp-id --diff-id --label-date --limit -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--exp-name --chip-id --warp-id --diff-id --label-date --limit -f --format'
            argkinds=''
            variadic=0 ;;
        'fixbroken status')
            subcmds=''
            opts='--open --limit -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--limit -f --format'
            argkinds=''
            variadic=0 ;;
        'fixbroken finish')
            subcmds=''
            opts='-n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds=''
            variadic=0 ;;
        'drop')
            subcmds=''
            opts='--class-id --quality --chip-id --cam-id -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--class-id --quality --chip-id --cam-id -f --format'
            argkinds='choice'
            variadic=0 ;;
        'publish')
            subcmds=''
            opts='--diff-id --night -l --label --client --rerun --set-label --revert -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--diff-id --night -l --label --client --set-label -f --format'
            argkinds=''
            variadic=0 ;;
        'labels')
            subcmds='list add update delete block unblock'
            opts='-h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'labels list')
            subcmds=''
            opts='-l --label --counts -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-l --label -f --format'
            argkinds=''
            variadic=0 ;;
        'labels add')
            subcmds=''
            opts='-p --priority --inactive --comment -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-p --priority --comment -f --format'
            argkinds='none'
            variadic=0 ;;
        'labels update')
            subcmds=''
            opts='-p --priority --active --inactive --comment -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-p --priority --comment -f --format'
            argkinds='none'
            variadic=1 ;;
        'labels delete')
            subcmds=''
            opts='-n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='none'
            variadic=1 ;;
        'labels block')
            subcmds=''
            opts='--stage --all-stages -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--stage -f --format'
            argkinds='none'
            variadic=1 ;;
        'labels unblock')
            subcmds=''
            opts='--stage --all-stages -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--stage -f --format'
            argkinds='none'
            variadic=1 ;;
        'cleanup')
            subcmds='status'
            opts='--as-of --stage --target --batch-size --show-held -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--as-of --stage --target --batch-size -f --format'
            argkinds=''
            variadic=0 ;;
        'cleanup status')
            subcmds=''
            opts='--as-of --stage -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--as-of --stage -f --format'
            argkinds=''
            variadic=0 ;;
        'pstamp-req')
            subcmds='list show stop clean update cleanup revert backlog create validate cut'
            opts='-h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'pstamp-req list')
            subcmds=''
            opts='--id -s --state -l --label --name --since --fault --user --limit -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--id -s --state -l --label --name --since --fault --user --limit -f --format'
            argkinds=''
            variadic=0 ;;
        'pstamp-req show')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='none'
            variadic=0 ;;
        'pstamp-req stop')
            subcmds=''
            opts='-n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='none'
            variadic=1 ;;
        'pstamp-req clean')
            subcmds=''
            opts='-n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='none'
            variadic=1 ;;
        'pstamp-req update')
            subcmds=''
            opts='--id --req-id-max -s --state -l --label --name --fault --older-than --set-state --set-label --set-fault --clear-fault --not-req-id --username --req-type --timestamp-begin --timestamp-end --set-out-product --set-outdir --set-uri --set-name --set-username --set-req-type --as-pstamptool -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--id --req-id-max -s --state -l --label --name --fault --older-than --set-state --set-label --set-fault --not-req-id --username --req-type --timestamp-begin --timestamp-end --set-out-product --set-outdir --set-uri --set-name --set-username --set-req-type -f --format'
            argkinds=''
            variadic=0 ;;
        'pstamp-req cleanup')
            subcmds=''
            opts='--older-than -l --label -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--older-than -l --label -f --format'
            argkinds=''
            variadic=0 ;;
        'pstamp-req revert')
            subcmds=''
            opts='--id -l --label -s --state --fault --what --clear-fault-count --as-pstamptool -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--id -l --label -s --state --fault --what -f --format'
            argkinds='none'
            variadic=1 ;;
        'pstamp-req backlog')
            subcmds=''
            opts='-l --label --parse-limit --check -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-l --label --parse-limit -f --format'
            argkinds=''
            variadic=0 ;;
        'pstamp-req create')
            subcmds=''
            opts='-o --output --req-name --email --action --ra --dec --from --mjd --mjd-window --filter --size --arcsec --img-type --req-type --project --survey --release --data-group --tess-id --run-type --options --comment --overwrite -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-o --output --req-name --email --action --ra --dec --from --mjd --mjd-window --filter --size --img-type --req-type --project --survey --release --data-group --tess-id --run-type --options --comment -f --format'
            argkinds=''
            variadic=0 ;;
        'pstamp-req validate')
            subcmds=''
            opts='--project --check-db -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--project -f --format'
            argkinds='file'
            variadic=0 ;;
        'pstamp-req cut')
            subcmds=''
            opts='--ra --dec --x --y --size --request --images --outdir --name --hdu --mask --variance --planes --compress --split --center-off-chip --workers --scheduler -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--ra --dec --x --y --size --request --images --outdir --name --hdu --mask --variance --planes --compress --workers --scheduler -f --format'
            argkinds='file'
            variadic=1 ;;
        'mopscat')
            subcmds='build check show'
            opts='-h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'mopscat build')
            subcmds=''
            opts='--diff-id --inverse --merge -o --output --zp --zp-err --difftype --diff-skyfile-id --exp-name --exp-id --cmf-version --camera --night --outdir --workers --scheduler -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--diff-id -o --output --zp --zp-err --difftype --diff-skyfile-id --exp-name --exp-id --cmf-version --camera --night --outdir --workers --scheduler -f --format'
            argkinds='file'
            variadic=1 ;;
        'mopscat check')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='file'
            variadic=0 ;;
        'mopscat show')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds='file'
            variadic=0 ;;
        'testchunk')
            subcmds='list define compare'
            opts='-h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'testchunk list')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds=''
            variadic=0 ;;
        'testchunk define')
            subcmds=''
            opts='--tag --diffs --ws -n --dry-run -y --yes -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--tag -f --format'
            argkinds='none'
            variadic=0 ;;
        'testchunk compare')
            subcmds=''
            opts='--radius --threshold --plots -f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--radius --threshold --plots -f --format'
            argkinds='file none'
            variadic=0 ;;
        'chiptool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'warptool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'difftool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'pstamptool')
            subcmds=''
            opts='--help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'demo')
            subcmds=''
            opts='--reset --night --files -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='--night --files'
            argkinds=''
            variadic=0 ;;
        'db')
            subcmds='init check'
            opts='-h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'db init')
            subcmds=''
            opts='--exists-ok -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'db check')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds=''
            variadic=0 ;;
        'config')
            subcmds='show'
            opts='-h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts=''
            argkinds=''
            variadic=0 ;;
        'config show')
            subcmds=''
            opts='-f --format --json -h --help --db --pstamp-db --dbname --config -v --verbose -q --quiet --log-file --debug'
            valopts='-f --format'
            argkinds=''
            variadic=0 ;;
    esac
}

_mopstool_value_words() {
    # sets words (choices) and kind (file or none) for "$1|$2": path|option or path|#N
    words='' kind=none
    case "$1|$2" in
        '|--config') kind=file ;;
        '|--log-file') kind=file ;;
        'czar|-t') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'czar|--target') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'czar|-f') words='table json jsonl csv' ;;
        'czar|--format') words='table json jsonl csv' ;;
        'lostvisits|-t') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'lostvisits|--target') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'lostvisits|-f') words='table json jsonl csv' ;;
        'lostvisits|--format') words='table json jsonl csv' ;;
        'diffpairs|-t') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'diffpairs|--target') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'diffpairs|-f') words='table json jsonl csv' ;;
        'diffpairs|--format') words='table json jsonl csv' ;;
        'night|-t') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'night|--target') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'night|-f') words='table json jsonl csv' ;;
        'night|--format') words='table json jsonl csv' ;;
        'report|-o') kind=file ;;
        'report|--output') kind=file ;;
        'faults|-l') words=$(_mopstool_labels) ;;
        'faults|--label') words=$(_mopstool_labels) ;;
        'faults|--stage') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'faults|-f') words='table json jsonl csv' ;;
        'faults|--format') words='table json jsonl csv' ;;
        'runs|-l') words=$(_mopstool_labels) ;;
        'runs|--label') words=$(_mopstool_labels) ;;
        'runs|-s') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'runs|--state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'runs|-f') words='table json jsonl csv' ;;
        'runs|--format') words='table json jsonl csv' ;;
        'runs|#1') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'show|-f') words='table json jsonl csv' ;;
        'show|--format') words='table json jsonl csv' ;;
        'show|#1') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'definebyquery|-e') kind=file ;;
        'definebyquery|--exp-name') kind=file ;;
        'definebyquery|--filelevel') kind=file ;;
        'definebyquery|-l') words=$(_mopstool_labels) ;;
        'definebyquery|--label') words=$(_mopstool_labels) ;;
        'definebyquery|--stage') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'definebyquery|--set-label') words=$(_mopstool_labels) ;;
        'definebyquery|--set-workdir') kind=file ;;
        'definebyquery|-f') words='table json jsonl csv' ;;
        'definebyquery|--format') words='table json jsonl csv' ;;
        'updaterun|-l') words=$(_mopstool_labels) ;;
        'updaterun|--label') words=$(_mopstool_labels) ;;
        'updaterun|-s') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'updaterun|--state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'updaterun|--set-state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'updaterun|--set-label') words=$(_mopstool_labels) ;;
        'updaterun|-f') words='table json jsonl csv' ;;
        'updaterun|--format') words='table json jsonl csv' ;;
        'updaterun|#1') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'setupdate|--set-label') words=$(_mopstool_labels) ;;
        'setupdate|-f') words='table json jsonl csv' ;;
        'setupdate|--format') words='table json jsonl csv' ;;
        'setupdate|#1') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'revert|-l') words=$(_mopstool_labels) ;;
        'revert|--label') words=$(_mopstool_labels) ;;
        'revert|-f') words='table json jsonl csv' ;;
        'revert|--format') words='table json jsonl csv' ;;
        'revert|#1') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'fixbroken|-f') words='table json jsonl csv' ;;
        'fixbroken|--format') words='table json jsonl csv' ;;
        'fixbroken status|-f') words='table json jsonl csv' ;;
        'fixbroken status|--format') words='table json jsonl csv' ;;
        'fixbroken finish|-f') words='table json jsonl csv' ;;
        'fixbroken finish|--format') words='table json jsonl csv' ;;
        'drop|-f') words='table json jsonl csv' ;;
        'drop|--format') words='table json jsonl csv' ;;
        'drop|#1') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'publish|-l') words=$(_mopstool_labels) ;;
        'publish|--label') words=$(_mopstool_labels) ;;
        'publish|--set-label') words=$(_mopstool_labels) ;;
        'publish|-f') words='table json jsonl csv' ;;
        'publish|--format') words='table json jsonl csv' ;;
        'labels list|-l') words=$(_mopstool_labels) ;;
        'labels list|--label') words=$(_mopstool_labels) ;;
        'labels list|-f') words='table json jsonl csv' ;;
        'labels list|--format') words='table json jsonl csv' ;;
        'labels add|-f') words='table json jsonl csv' ;;
        'labels add|--format') words='table json jsonl csv' ;;
        'labels update|-f') words='table json jsonl csv' ;;
        'labels update|--format') words='table json jsonl csv' ;;
        'labels delete|-f') words='table json jsonl csv' ;;
        'labels delete|--format') words='table json jsonl csv' ;;
        'labels block|--stage') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'labels block|-f') words='table json jsonl csv' ;;
        'labels block|--format') words='table json jsonl csv' ;;
        'labels unblock|--stage') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'labels unblock|-f') words='table json jsonl csv' ;;
        'labels unblock|--format') words='table json jsonl csv' ;;
        'cleanup|--stage') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'cleanup|--target') words='OSS MSS ESS EU Bright ThreePi QUB.lv FSS' ;;
        'cleanup|-f') words='table json jsonl csv' ;;
        'cleanup|--format') words='table json jsonl csv' ;;
        'cleanup status|--stage') words='chip cam fake warp stack diff publish pstamp-request pstamp-job pstamp-dependent' ;;
        'cleanup status|-f') words='table json jsonl csv' ;;
        'cleanup status|--format') words='table json jsonl csv' ;;
        'pstamp-req list|-s') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req list|--state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req list|-l') words=$(_mopstool_labels) ;;
        'pstamp-req list|--label') words=$(_mopstool_labels) ;;
        'pstamp-req list|-f') words='table json jsonl csv' ;;
        'pstamp-req list|--format') words='table json jsonl csv' ;;
        'pstamp-req show|-f') words='table json jsonl csv' ;;
        'pstamp-req show|--format') words='table json jsonl csv' ;;
        'pstamp-req stop|-f') words='table json jsonl csv' ;;
        'pstamp-req stop|--format') words='table json jsonl csv' ;;
        'pstamp-req clean|-f') words='table json jsonl csv' ;;
        'pstamp-req clean|--format') words='table json jsonl csv' ;;
        'pstamp-req update|-s') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req update|--state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req update|-l') words=$(_mopstool_labels) ;;
        'pstamp-req update|--label') words=$(_mopstool_labels) ;;
        'pstamp-req update|--set-state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req update|--set-label') words=$(_mopstool_labels) ;;
        'pstamp-req update|--set-outdir') kind=file ;;
        'pstamp-req update|-f') words='table json jsonl csv' ;;
        'pstamp-req update|--format') words='table json jsonl csv' ;;
        'pstamp-req cleanup|-l') words=$(_mopstool_labels) ;;
        'pstamp-req cleanup|--label') words=$(_mopstool_labels) ;;
        'pstamp-req cleanup|-f') words='table json jsonl csv' ;;
        'pstamp-req cleanup|--format') words='table json jsonl csv' ;;
        'pstamp-req revert|-l') words=$(_mopstool_labels) ;;
        'pstamp-req revert|--label') words=$(_mopstool_labels) ;;
        'pstamp-req revert|-s') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req revert|--state') words='new reg full drop wait keep ignore goto_cleaned error_cleaned goto_purged error_purged goto_scrubbed error_scrubbed cleaned update purged scrubbed run parsed stop cancel' ;;
        'pstamp-req revert|-f') words='table json jsonl csv' ;;
        'pstamp-req revert|--format') words='table json jsonl csv' ;;
        'pstamp-req backlog|-l') words=$(_mopstool_labels) ;;
        'pstamp-req backlog|--label') words=$(_mopstool_labels) ;;
        'pstamp-req backlog|-f') words='table json jsonl csv' ;;
        'pstamp-req backlog|--format') words='table json jsonl csv' ;;
        'pstamp-req create|-o') kind=file ;;
        'pstamp-req create|--output') kind=file ;;
        'pstamp-req create|--req-name') kind=file ;;
        'pstamp-req create|-f') words='table json jsonl csv' ;;
        'pstamp-req create|--format') words='table json jsonl csv' ;;
        'pstamp-req validate|-f') words='table json jsonl csv' ;;
        'pstamp-req validate|--format') words='table json jsonl csv' ;;
        'pstamp-req cut|--request') kind=file ;;
        'pstamp-req cut|--images') kind=file ;;
        'pstamp-req cut|--outdir') kind=file ;;
        'pstamp-req cut|--mask') kind=file ;;
        'pstamp-req cut|--variance') kind=file ;;
        'pstamp-req cut|-f') words='table json jsonl csv' ;;
        'pstamp-req cut|--format') words='table json jsonl csv' ;;
        'mopscat build|-o') kind=file ;;
        'mopscat build|--output') kind=file ;;
        'mopscat build|--difftype') kind=file ;;
        'mopscat build|--exp-name') kind=file ;;
        'mopscat build|--outdir') kind=file ;;
        'mopscat build|-f') words='table json jsonl csv' ;;
        'mopscat build|--format') words='table json jsonl csv' ;;
        'mopscat check|-f') words='table json jsonl csv' ;;
        'mopscat check|--format') words='table json jsonl csv' ;;
        'mopscat show|-f') words='table json jsonl csv' ;;
        'mopscat show|--format') words='table json jsonl csv' ;;
        'testchunk list|-f') words='table json jsonl csv' ;;
        'testchunk list|--format') words='table json jsonl csv' ;;
        'testchunk define|-f') words='table json jsonl csv' ;;
        'testchunk define|--format') words='table json jsonl csv' ;;
        'testchunk compare|--plots') kind=file ;;
        'testchunk compare|-f') words='table json jsonl csv' ;;
        'testchunk compare|--format') words='table json jsonl csv' ;;
        'demo|--files') kind=file ;;
        'db check|-f') words='table json jsonl csv' ;;
        'db check|--format') words='table json jsonl csv' ;;
        'config show|-f') words='table json jsonl csv' ;;
        'config show|--format') words='table json jsonl csv' ;;
        *)
            case "$2" in
            '--config') kind=file ;;
            '--log-file') kind=file ;;
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
