"""State, fault and quality vocabularies of the IPP, in one place.

Facts from the IPP ippTools (pxIsValidState, psExit.h, pxtools.h, pstamp.h).
"""

from __future__ import annotations

# The state strings the IPP tools accept for runs and components.
VALID_STATES: tuple[str, ...] = (
    "new", "reg", "full", "drop", "wait", "keep", "ignore",
    "goto_cleaned", "error_cleaned", "goto_purged", "error_purged",
    "goto_scrubbed", "error_scrubbed", "cleaned", "update", "purged", "scrubbed",
)

#: states a run is in while the pipeline still works on it
ACTIVE_STATES: tuple[str, ...] = ("new", "reg", "update")
#: states on the way to, or at, removal of the files
CLEANUP_PENDING_STATES: tuple[str, ...] = ("goto_cleaned", "goto_purged", "goto_scrubbed")
CLEANED_LIKE_STATES: tuple[str, ...] = ("cleaned", "purged", "scrubbed")
ERROR_CLEANUP_STATES: tuple[str, ...] = ("error_cleaned", "error_purged", "error_scrubbed")
#: run states that hold no usable pixels any more (a component behind them is gone)
GONE_STATES: tuple[str, ...] = CLEANED_LIKE_STATES + ERROR_CLEANUP_STATES + ("drop",)

#: fault that marks a component permanently non-updateable (PXTOOL_DO_NOT_REVERT_FAULT)
FAULT_GONE = 26
#: pantasks "crash" exit
FAULT_CRASH = 256

FAULT_MEANINGS: dict[int, str] = {
    0: "ok",
    1: "UNKNOWN: unexpected failure of the processing script",
    2: "SYS: I/O, Nebulous or filesystem error (usually transient; revert)",
    3: "CONFIG: configuration or recipe problem",
    4: "PROG: programming error in the pipeline",
    5: "DATA: bad input data",
    6: "TIMEOUT: the processing step timed out",
    25: "NOT_AVAILABLE: the image is not available (error_cleaned); reprocess",
    26: "GONE: the component is permanently gone; never reverted or updated unless asked",
    256: "CRASH: pantasks recorded a crash of the job",
}

#: postage stamp fault codes (pstamp.h); >= 10 are user facing and never auto-reverted
PSTAMP_FIRST_ERROR_CODE = 10
PSTAMP_MAX_FAULT_COUNT = 5
PSTAMP_FAULTS: dict[int, tuple[str, str]] = {
    0: ("SUCCESS", "success"),
    10: ("SYSTEM_ERROR", "system error on the stamp server"),
    11: ("NOT_IMPLEMENTED", "requested feature not implemented"),
    12: ("UNKNOWN_ERROR", "unknown error"),
    20: ("DUP_REQUEST", "a request with this name already exists"),
    21: ("INVALID_REQUEST", "the request or row is malformed"),
    22: ("UNKNOWN_PROJECT", "unknown project"),
    23: ("NO_IMAGE_MATCH", "no image matches the row"),
    24: ("NOT_DESTREAKED", "image not destreaked"),
    25: ("NOT_AVAILABLE", "image not available (error_cleaned or broken); reprocess"),
    26: ("GONE", "image permanently gone"),
    27: ("NO_JOBS_QUEUED", "the request queued no jobs"),
    28: ("NO_OVERLAP", "the position is not on the image"),
    29: ("NOT_AUTHORIZED", "not authorized for these data"),
    30: ("NO_VALID_PIXELS", "the stamp has no valid pixels"),
    31: ("BG_RESTORE_NOT_AVAILABLE", "background restoration not available"),
}

#: camProcessedExp.quality values with a known meaning (others: "bad quality")
QUALITY_MEANINGS: dict[int, str] = {
    0: "good",
    4007: "astrometry failure (unrecoverable)",
}


def fault_meaning(code: int | None, *, pstamp: bool = False) -> str:
    """Human meaning of a fault code (processing codes, or pstamp codes)."""
    if code is None:
        return "no fault recorded"
    code = int(code)
    if pstamp:
        if code in PSTAMP_FAULTS:
            name, text = PSTAMP_FAULTS[code]
            return f"{name}: {text}"
        if 0 < code < PSTAMP_FIRST_ERROR_CODE:
            return FAULT_MEANINGS.get(code, f"exit status {code} of a stamp script (retried)")
    if code in FAULT_MEANINGS:
        return FAULT_MEANINGS[code]
    return f"exit status {code} (no documented meaning)"


def quality_meaning(code: int | None) -> str:
    if code is None or int(code) == 0:
        return "good"
    return QUALITY_MEANINGS.get(int(code), f"bad quality ({int(code)}): done but scientifically bad")


def is_valid_state(state: str) -> bool:
    return state in VALID_STATES
