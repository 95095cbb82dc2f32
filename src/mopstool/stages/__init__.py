"""The pipeline-stage library: one description per IPP stage.

Commands that work on runs and components (runs, show, updaterun, setupdate,
revert, faults, cleanup, czar) are written once over these descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mopstool.errors import UsageError
from mopstool.stages.vocab import (  # noqa: F401  (re-exported)
    ACTIVE_STATES,
    DependentState,
    Fault,
    JobState,
    PstampFault,
    RequestState,
    State,
    StrEnum,
    CLEANED_LIKE_STATES,
    CLEANUP_PENDING_STATES,
    ERROR_CLEANUP_STATES,
    FAULT_GONE,
    FAULT_MEANINGS,
    PSTAMP_FAULTS,
    VALID_STATES,
    fault_meaning,
    is_valid_state,
    quality_meaning,
)

PSTAMP_REQUEST_STATES = tuple(RequestState)
PSTAMP_JOB_STATES = tuple(JobState)
PSTAMP_DEPENDENT_STATES = tuple(DependentState)


@dataclass(frozen=True)
class Link:
    """One join step: ``table.column = to_table.to_column``."""

    table: str
    column: str
    to_table: str
    to_column: str


@dataclass(frozen=True)
class Stage:
    name: str
    run_table: str
    id_col: str
    #: table of the run's components (None: the run has no per-component rows)
    component_table: str | None
    #: columns that name one component within a run (class_id / skycell_id)
    component_key: tuple[str, ...] = ()
    #: column of the component state (data_state), None if components have no state
    data_state_col: str | None = "data_state"
    #: column of the component quality flag, None where there is none
    quality_col: str | None = "quality"
    fault_col: str | None = "fault"
    #: the run-level state column
    state_col: str = "state"
    #: run-table columns that exist (filters use only these)
    run_columns: tuple[str, ...] = ("label", "data_group", "dist_group")
    #: the accepted run states
    states: tuple[str, ...] = VALID_STATES
    #: block table for labels (chipMask, warpMask...)
    mask_table: str | None = None
    #: join path from the run table to rawExp (for --night and exposure names)
    exposure_path: tuple[Link, ...] = ()
    #: the stage whose run id this stage's run table carries (chip_id in camRun)
    parent: tuple[str, str] | None = None
    #: lives in the stamp request database rather than the image database
    pstamp_db: bool = False
    #: component data states that setupdate will move to 'update'
    update_from_data_states: tuple[str, ...] = ()
    #: setupdate without a component key also sweeps bad-quality components to 'full'
    bad_quality_sweep: bool = False
    #: run column that setupdate writes (chipRun.update_mode)
    update_mode_col: str | None = None
    #: writable through updaterun
    updatable: bool = True
    description: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    @property
    def has_components(self) -> bool:
        return self.component_table is not None

    def validate_state(self, state: str) -> str:
        if state not in self.states:
            raise UsageError(
                f"invalid state {state!r} for stage {self.name}; valid: {', '.join(self.states)}"
            )
        return state

    def fault_meaning(self, code: int | None) -> str:
        return fault_meaning(code, pstamp=self.pstamp_db)


def rollup_state(components: list[tuple[str | None, int | None]]) -> str | None:
    """The IPP roll-up rule: a run takes state S when every quality-0 component
    has data_state S (bad-quality components are ignored). Returns None when the
    good components disagree (the run keeps its state)."""
    good = {ds for ds, q in components if not q}
    if len(good) == 1:
        return next(iter(good))
    return None


_EXP = Link("chipRun", "exp_id", "rawExp", "exp_id")
_CHIP = Link("camRun", "chip_id", "chipRun", "chip_id")
_CAM = Link("fakeRun", "cam_id", "camRun", "cam_id")
_FAKE = Link("warpRun", "fake_id", "fakeRun", "fake_id")

STAGES: dict[str, Stage] = {}


def _add(stage: Stage) -> Stage:
    STAGES[stage.name] = stage
    return stage


CHIP = _add(Stage(
    name="chip", run_table="chipRun", id_col="chip_id",
    component_table="chipProcessedImfile", component_key=("class_id",),
    mask_table="chipMask", exposure_path=(_EXP,), parent=("exposure", "exp_id"),
    update_from_data_states=("cleaned",), bad_quality_sweep=True, update_mode_col="update_mode",
    description="detrended chips (OTAs) of one exposure; component = class_id (XY01..XY76)",
))
CAM = _add(Stage(
    name="cam", run_table="camRun", id_col="cam_id",
    component_table="camProcessedExp", component_key=(), data_state_col=None,
    mask_table="camMask", exposure_path=(_CHIP, _EXP), parent=("chip", "chip_id"),
    description="camera-stage astrometry/photometry of one exposure; one camProcessedExp row",
))
FAKE = _add(Stage(
    name="fake", run_table="fakeRun", id_col="fake_id",
    component_table="fakeProcessedImfile", component_key=("class_id",), quality_col=None,
    mask_table="fakeMask", exposure_path=(_CAM, _CHIP, _EXP), parent=("cam", "cam_id"),
    description="fake-source stage between camera and warp",
))
WARP = _add(Stage(
    name="warp", run_table="warpRun", id_col="warp_id",
    component_table="warpSkyfile", component_key=("skycell_id",),
    mask_table="warpMask", exposure_path=(_FAKE, _CAM, _CHIP, _EXP), parent=("fake", "fake_id"),
    update_from_data_states=("cleaned", "update"), bad_quality_sweep=True,
    description="exposure warped onto skycells (RINGS.V3); component = skycell_id",
))
STACK = _add(Stage(
    name="stack", run_table="stackRun", id_col="stack_id",
    component_table="stackSumSkyfile", component_key=(), data_state_col=None,
    description="stack of warps on one skycell and filter (templates for WS diffs)",
))
DIFF = _add(Stage(
    name="diff", run_table="diffRun", id_col="diff_id",
    component_table="diffSkyfile", component_key=("skycell_id",),
    exposure_path=(
        Link("diffRun", "diff_id", "diffInputSkyfile", "diff_id"),
        Link("diffInputSkyfile", "warp1", "warpRun", "warp_id"),
        _FAKE, _CAM, _CHIP, _EXP,
    ),
    update_from_data_states=("cleaned", "update"), bad_quality_sweep=False,
    description="difference image (WW: warp-warp, WS: warp-stack); component = skycell_id",
))
PUBLISH = _add(Stage(
    name="publish", run_table="publishRun", id_col="pub_id",
    component_table="publishDone", component_key=(), data_state_col=None, quality_col=None,
    run_columns=("label",), parent=("diff", "stage_id"),
    exposure_path=(
        Link("publishRun", "stage_id", "diffInputSkyfile", "diff_id"),
        Link("diffInputSkyfile", "warp1", "warpRun", "warp_id"),
        _FAKE, _CAM, _CHIP, _EXP,
    ),
    description="publishing of diff catalogs to the MOPS DataStore (publishRun/publishDone)",
))
PSTAMP_REQUEST = _add(Stage(
    name="pstamp-request", run_table="pstampRequest", id_col="req_id",
    component_table="pstampJob", component_key=("job_id",), data_state_col="state",
    quality_col=None, run_columns=("label", "name"), states=PSTAMP_REQUEST_STATES,
    pstamp_db=True, updatable=False,
    description="postage stamp request (one uploaded request file); components = its jobs",
))
PSTAMP_JOB = _add(Stage(
    name="pstamp-job", run_table="pstampJob", id_col="job_id",
    component_table=None, data_state_col=None, quality_col=None, run_columns=(),
    states=PSTAMP_JOB_STATES, pstamp_db=True, updatable=False,
    description="one stamp job of a request (one row of the request file and image)",
))
PSTAMP_DEPENDENT = _add(Stage(
    name="pstamp-dependent", run_table="pstampDependent", id_col="dep_id",
    component_table=None, data_state_col=None, quality_col=None, run_columns=(),
    states=PSTAMP_DEPENDENT_STATES, pstamp_db=True, updatable=False,
    description="an image a stamp job waits for (a chip/warp/diff component being updated)",
))

#: the image stages of the nightly chain, in pipeline order
NIGHTLY_STAGES = ("chip", "cam", "warp", "diff", "publish")
#: stages updaterun may change
UPDATABLE_STAGES = tuple(n for n, s in STAGES.items() if s.updatable and n not in ("fake", "publish"))

_ALIASES = {"camera": "cam", "request": "pstamp-request", "req": "pstamp-request",
            "job": "pstamp-job", "dependent": "pstamp-dependent", "dep": "pstamp-dependent",
            "pstamp": "pstamp-request"}


def get_stage(name: str, *, allowed: tuple[str, ...] | None = None) -> Stage:
    """Return the stage called *name* (or an alias), or raise a usage error."""
    key = _ALIASES.get(name.lower(), name.lower())
    names = allowed or tuple(STAGES)
    if key not in STAGES or key not in names:
        raise UsageError(f"unknown stage {name!r}; choose one of: {', '.join(names)}")
    return STAGES[key]
