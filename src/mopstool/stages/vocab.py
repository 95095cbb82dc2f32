"""State, fault and quality vocabularies of the IPP, in one place.

Facts from the IPP ippTools (pxIsValidState, psExit.h, pxtools.h, pstamp.h).
"""

from __future__ import annotations

from enum import Enum, IntEnum


class StrEnum(str, Enum):
    """A string enum whose str() and f-string form is the database value."""

    def __str__(self) -> str:
        return self.value

    __format__ = str.__format__


class State(StrEnum):
    """Run and component states of the image stages (pxIsValidState, pxtools.c)."""

    NEW = "new"
    REG = "reg"
    FULL = "full"
    DROP = "drop"
    WAIT = "wait"
    KEEP = "keep"
    IGNORE = "ignore"
    GOTO_CLEANED = "goto_cleaned"
    ERROR_CLEANED = "error_cleaned"
    GOTO_PURGED = "goto_purged"
    ERROR_PURGED = "error_purged"
    GOTO_SCRUBBED = "goto_scrubbed"
    ERROR_SCRUBBED = "error_scrubbed"
    CLEANED = "cleaned"
    UPDATE = "update"
    PURGED = "purged"
    SCRUBBED = "scrubbed"


class RequestState(StrEnum):
    """pstampRequest.state (pstamptool.c and the pstamp scripts)."""

    NEW = "new"
    RUN = "run"
    PARSED = "parsed"
    STOP = "stop"
    GOTO_CLEANED = "goto_cleaned"
    CLEANED = "cleaned"


class JobState(StrEnum):
    """pstampJob.state."""

    RUN = "run"
    STOP = "stop"
    PARSED = "parsed"
    CANCEL = "cancel"


class DependentState(StrEnum):
    """pstampDependent.state."""

    NEW = "new"
    HOLD = "hold"
    FULL = "full"


class PublishState(StrEnum):
    """publishRun.state values mopstool compares with besides the image states:
    a publication the publisher has queued but not finished."""

    NEW = "new"
    PENDING = "pending"
    FULL = "full"


class Fault(IntEnum):
    """Processing fault codes (psExit.h exit statuses, pxtools.h, pantasks)."""

    OK = 0
    UNKNOWN = 1
    SYS = 2
    CONFIG = 3
    PROG = 4
    DATA = 5
    TIMEOUT = 6
    NOT_AVAILABLE = 25
    GONE = 26
    CRASH = 256


class PstampFault(IntEnum):
    """Postage stamp fault codes (pstamp.h); >= 10 are user facing."""

    SUCCESS = 0
    SYSTEM_ERROR = 10
    NOT_IMPLEMENTED = 11
    UNKNOWN_ERROR = 12
    DUP_REQUEST = 20
    INVALID_REQUEST = 21
    UNKNOWN_PROJECT = 22
    NO_IMAGE_MATCH = 23
    NOT_DESTREAKED = 24
    NOT_AVAILABLE = 25
    GONE = 26
    NO_JOBS_QUEUED = 27
    NO_OVERLAP = 28
    NOT_AUTHORIZED = 29
    NO_VALID_PIXELS = 30
    BG_RESTORE_NOT_AVAILABLE = 31


# The state strings the IPP tools accept for runs and components.

VALID_STATES: tuple[State, ...] = tuple(State)

#: states a run is in while the pipeline still works on it
ACTIVE_STATES: tuple[State, ...] = (State.NEW, State.REG, State.UPDATE)
#: states on the way to, or at, removal of the files
CLEANUP_PENDING_STATES: tuple[State, ...] = (State.GOTO_CLEANED, State.GOTO_PURGED, State.GOTO_SCRUBBED)
CLEANED_LIKE_STATES: tuple[State, ...] = (State.CLEANED, State.PURGED, State.SCRUBBED)
ERROR_CLEANUP_STATES: tuple[State, ...] = (State.ERROR_CLEANED, State.ERROR_PURGED, State.ERROR_SCRUBBED)
#: run states that hold no usable pixels any more (a component behind them is gone)
GONE_STATES: tuple[State, ...] = CLEANED_LIKE_STATES + ERROR_CLEANUP_STATES + (State.DROP,)

#: publishRun states of a publication not done yet (the publisher still reads the diff's files)
PUBLISH_WAITING_STATES: tuple[PublishState, ...] = (PublishState.NEW, PublishState.PENDING)

#: fault that marks a component permanently non-updateable (PXTOOL_DO_NOT_REVERT_FAULT)
FAULT_GONE = Fault.GONE
#: pantasks "crash" exit
FAULT_CRASH = Fault.CRASH

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

#: states of stamp requests the server still works on
ACTIVE_REQUEST_STATES: tuple[RequestState, ...] = (RequestState.NEW, RequestState.RUN, RequestState.PARSED)
#: stamp job states that count as finished (pstamptool -completedreq)
FINISHED_JOB_STATES: tuple[JobState, ...] = (JobState.STOP, JobState.CANCEL)
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
