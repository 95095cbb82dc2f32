"""Freed memory kept for reuse during bulk array work (glibc only).

glibc's malloc serves a request above its mmap threshold with fresh pages
from the kernel, and gives memory back to the kernel when more than its trim
threshold lies free at the top of the heap (both thresholds start small and
are raised as large blocks are freed, up to 32 MB). The test-chunk compare
makes and frees thousands of numpy temporaries of 0.5-5 MB; each time such
memory has been given back, its next use faults every 4 KB page in again,
zeroed by the kernel: 8,000-16,000 page faults and 20-45 ms of system time in
each compare of 60 x 5,000 detections per side after the first in a process
(docs/benchmarks.md).

:func:`keep_freed_memory` sets both thresholds once per process with
``mallopt`` (M_MMAP_THRESHOLD 32 MB, the most glibc takes; M_TRIM_THRESHOLD
256 MB), so that such blocks come from the heap and freed ones wait there for
the next: a process then holds on to up to 256 MB it no longer uses until it
ends. The first use of memory still faults it in (a single compare in a new
process: about 40,000 faults instead of 62,000). Elsewhere than glibc it does
nothing. Only the standard library is used.
"""

from __future__ import annotations

import os

#: mallopt parameters (glibc's malloc.h)
_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3
MMAP_THRESHOLD = 32 << 20
TRIM_THRESHOLD = 256 << 20

_taken: bool | None = None      #: whether glibc took the thresholds (None: not tried yet)


def keep_freed_memory() -> bool:
    """Set the thresholds (module doc), once; True when glibc took them."""
    global _taken
    if _taken is None:
        _taken = _set_thresholds()
    return _taken


def _set_thresholds() -> bool:
    try:
        if not os.confstr("CS_GNU_LIBC_VERSION"):
            return False
    except (AttributeError, ValueError, OSError):
        return False
    import ctypes

    lib = ctypes.CDLL(None)
    return bool(hasattr(lib, "mallopt") and lib.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)
                and lib.mallopt(_M_TRIM_THRESHOLD, TRIM_THRESHOLD))
