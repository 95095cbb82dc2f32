#!/usr/bin/env bash
# Is MOPS stuck behind a large postage-stamp upload?
#
#   examples/pstamp-backlog-check.sh
#
# Shows the backlog per label against the parse limit, the faulted MOPS requests,
# and reverts transient faults (codes < 10, fault_count < 5) of MOPS requests.
set -euo pipefail

# exit 3: more requests wait for the parser than one parse cycle takes (MOPS may wait)
mopstool pstamp-req backlog || [ $? -eq 3 ]
mopstool pstamp-req list --label 'MOPS%' --state run
mopstool pstamp-req revert --label 'MOPS%' --yes
