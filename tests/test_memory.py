"""mopstool._memory: with the thresholds set, numpy temporaries of a few MB
made and freed over and over reuse the heap instead of faulting fresh pages
in every time (glibc; elsewhere the call is a no-op)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

SCRIPT = r"""
import resource, sys
import numpy as np
if sys.argv[1] == "keep":
    from mopstool._memory import keep_freed_memory
    assert keep_freed_memory() and keep_freed_memory()
big = [np.ones(1 << 21) for _ in range(8)]      # 16 MB in use, then freed:
del big                                         # at the heap's top, given back by default
r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(50):
    a = np.ones(1 << 19) + 1.0                  # 4 MB temporaries
    b = a * 2.0
    del a, b
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
"""


def _faults(mode: str) -> int:
    """Page faults of the loop in a new process, the thresholds set or not."""
    env = dict(os.environ)
    for k in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TOP_PAD_"):
        env.pop(k, None)
    out = subprocess.run([sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, env=env, check=True)
    return int(out.stdout.strip())


@pytest.mark.skipif(not hasattr(os, "confstr") or not (os.confstr("CS_GNU_LIBC_VERSION") or ""),
                    reason="glibc's malloc only")
def test_freed_temporaries_are_reused_without_page_faults():
    # 50 rounds of two 4 MB arrays: about 100,000 pages if each were fresh;
    # glibc's defaults give some 1,000 faults here (the heap trimmed and grown again)
    kept = _faults("keep")
    assert kept < 200, kept
