#!/usr/bin/env bash
# Nightly retention cleanup, for cron (no terminal: --yes is required for big changes).
#
#   examples/cron-cleanup.sh [AS_OF]      (AS_OF: UTC date the retention is counted from, default today)
#
# Shows the plan, applies it in resumable batches, then prints the cleanup status
# so a stuck cleanup (old uncleaned nights, error_cleaned runs) is visible in the mail.
set -euo pipefail
AS_OF=${1:-today}

mopstool cleanup --dry-run --as-of "$AS_OF"
mopstool cleanup --yes --as-of "$AS_OF"
mopstool cleanup status
