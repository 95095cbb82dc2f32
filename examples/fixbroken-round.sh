#!/usr/bin/env bash
# One round of repairing broken (fault 26 / error_cleaned) products.
#
#   examples/fixbroken-round.sh
#
# 1. show what is broken and which recipe would repair it;
# 2. define the replacement runs (lapfix for LAP.PV3 grizy, wfix for w-band);
# 3. show progress; originals go to cleanup only once their replacements' warps are full.
set -euo pipefail

mopstool fixbroken --dry-run
mopstool fixbroken --yes
mopstool fixbroken status
mopstool fixbroken finish --yes
