#!/usr/bin/env bash
# The czar's early-morning check of last night's MOPS products.
#
#   examples/czar-morning-check.sh [NIGHT]        (NIGHT: UTC date, default yesterday)
#
# Prints the one-screen summary; when attention is needed (exit 3) it also lists
# the lost visits, the fault groups and the desperate diffs that would recover
# triples, so the czar can paste the suggested fixes. Cron can mail the output
# when the script exits non-zero.
set -uo pipefail
NIGHT=${1:-yesterday}

mopstool czar --night "$NIGHT"
status=$?
if [ "$status" -eq 3 ]; then
  echo
  echo "== lost visits"
  mopstool lostvisits --night "$NIGHT"
  echo
  echo "== faults"
  mopstool faults --night "$NIGHT"
  echo
  echo "== diff plan (desperate pairs included)"
  mopstool diffpairs --night "$NIGHT" --desperate
fi
exit "$status"
