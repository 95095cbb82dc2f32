#!/usr/bin/env bash
# The czar's early-morning check of the night's MOPS products.
#
#   examples/czar-morning-check.sh [NIGHT] [mopstool connection options...]
#
# NIGHT: the UTC date of the night (YYYY-MM-DD, an MJD like 58309, or a GPC1
# night number like 8309); default: the current UTC date, which early in the
# Hawaii morning is the night just observed. Connection options (--db URL,
# --dbname NAME, --config FILE, --pstamp-db URL) are passed to every command,
# and the printed fixes carry them too.
#
# Prints the one-screen summary and the problems grouped by fix; when attention
# is needed (exit 3) it also writes the fix commands, one per line, to
# czar-fixes-NIGHT.sh for review (run it with: sh czar-fixes-NIGHT.sh). Cron can
# mail the output when the script exits non-zero; a night with no exposures is
# attention too (a failed ingest or the wrong database).
set -uo pipefail
NIGHT=${1:-$(date -u +%F)}
shift || true

mopstool "$@" czar --night "$NIGHT"
status=$?
if [ "$status" -eq 3 ]; then
  fixes="czar-fixes-${NIGHT}.sh"
  mopstool "$@" czar --night "$NIGHT" --fixes > "$fixes" 2>/dev/null
  echo
  echo "fix commands written to $fixes ($(wc -l < "$fixes") lines): review, then sh $fixes"
  echo
  echo "== lost visits"
  mopstool "$@" lostvisits --night "$NIGHT"
fi
exit "$status"
