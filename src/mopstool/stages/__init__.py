"""The stage graph: one description per IPP stage, and the registry commands ask.

Each :class:`Stage` knows its tables (run, component, block), the columns that
name and qualify a component, its inputs (the upstream stages it reads and the
columns that link them), the state vocabulary and normal transitions, and its
capabilities ("runs", "faults", "revert", "updaterun", "setupdate", "cleanup",
"warpstack", "define", "block", "fixbroken", "nightly", "nightfaults", "labelcount", "drop"). Commands never keep
their own stage lists; they ask the registry::

    for name in stages_that("revert"): ...
    stage = get_stage("warp", capability="setupdate")

A new stage is one :func:`register` call (see docs/architecture.md); every
command that asks the registry for a capability picks it up. The joins between
stages (exposure path, night filter, downstream-active check) are written once
in :mod:`mopstool.stages.joins`, over these descriptions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterable, Mapping

from mopstool.errors import UsageError
from mopstool.stages.vocab import (  # noqa: F401  (re-exported)
    ACTIVE_STATES,
    CLEANED_LIKE_STATES,
    CLEANUP_PENDING_STATES,
    ERROR_CLEANUP_STATES,
    FAULT_GONE,
    FAULT_MEANINGS,
    GONE_STATES,
    PSTAMP_FAULTS,
    PUBLISH_WAITING_STATES,
    VALID_STATES,
    DependentState,
    Fault,
    JobState,
    PstampFault,
    PublishState,
    RequestState,
    State,
    StrEnum,
    fault_meaning,
    is_valid_state,
    quality_meaning,
)

PSTAMP_REQUEST_STATES = tuple(RequestState)
PSTAMP_JOB_STATES = tuple(JobState)
PSTAMP_DEPENDENT_STATES = tuple(DependentState)

#: every capability a stage may declare (a typo in a query is an error, not an empty list)
CAPABILITIES = frozenset({
    "runs",        # listed by `runs`, shown by `show`
    "faults",      # its components carry processing faults (`faults`)
    "revert",      # `revert` deletes/clears faulted components
    "updaterun",   # `updaterun` changes run columns
    "setupdate",   # `setupdate` queues cleaned components for regeneration
    "cleanup",     # retention cleanup moves its runs to goto_cleaned
    "warpstack",   # its runs include warp-stack products ([survey] ws_label / ws_data_group)
    "define",      # `definebyquery` defines runs
    "block",       # has a block table (`labels block`)
    "fixbroken",   # `fixbroken` repairs runs with gone (fault 26) components
    "nightly",     # part of the nightly chain the czar reports (its per-target counts)
    "nightfaults", # its faults of a night's target exposures are problems the czar reports
    "labelcount",  # counted per label by `labels list --counts`
    "drop",        # `drop` marks processed components done but bad (chiptool -dropprocessedimfile)
})


@dataclass(frozen=True)
class Link:
    """One join step: ``table.column = to_table.to_column``."""

    table: str
    column: str
    to_table: str
    to_column: str


@dataclass(frozen=True)
class Input:
    """An upstream stage this stage reads: ``table.up_col`` holds the upstream
    run id, ``table.run_col`` this stage's run id. ``table`` is this stage's run
    table (one upstream run per run) or an input table (several, e.g.
    diffInputSkyfile.warp1)."""

    stage: str
    table: str
    run_col: str
    up_col: str
    #: the exposure of this stage's runs is found through this input (--night)
    exposure: bool = True
    #: a row the link needs besides the id (publishRun.stage_id names a diff only
    #: when the run's publishClient has stage 'diff'); see stages.joins
    via: "Guard | None" = None


@dataclass(frozen=True)
class FaultMap:
    """A second table of faulted rows of a run (warpSkyCellMap: a faulted
    overlap calculation is a row with ``key_col = marker``)."""

    table: str
    key_col: str
    marker: str
    #: the component name such a row is shown as
    component: str


@dataclass(frozen=True)
class Guard:
    """A row the run needs before a writer touches it: a ``table`` row with
    ``column = run.run_col`` whose ``nonzero`` columns are not 0 and whose
    ``equals`` columns have the given values (publish: an active diff client)."""

    table: str
    column: str
    run_col: str
    nonzero: tuple[str, ...] = ()
    equals: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class Related:
    """Rows shown by ``show`` beside the components: ``table`` rows whose
    ``column`` equals the run id, or (with *through*) the ``through_col``
    values of the rows of ``through`` whose ``through_run_col`` is the run id."""

    name: str
    table: str
    column: str
    order_by: tuple[str, ...] = ()
    through: str | None = None
    through_run_col: str | None = None
    through_col: str | None = None


#: the image-stage life cycle (reference: ipp-tools §7.2-7.4); updaterun may
#: still write any valid state, as the C tools do
IMAGE_TRANSITIONS: Mapping[State, frozenset[State]] = {
    State.REG: frozenset({State.NEW, State.DROP}),
    State.NEW: frozenset({State.FULL, State.DROP}),
    State.FULL: frozenset({State.GOTO_CLEANED, State.GOTO_PURGED, State.GOTO_SCRUBBED, State.DROP,
                           State.UPDATE}),
    State.GOTO_CLEANED: frozenset({State.CLEANED, State.ERROR_CLEANED, State.UPDATE}),
    State.GOTO_PURGED: frozenset({State.PURGED, State.ERROR_PURGED}),
    State.GOTO_SCRUBBED: frozenset({State.SCRUBBED, State.ERROR_SCRUBBED}),
    State.ERROR_CLEANED: frozenset({State.GOTO_CLEANED}),
    State.ERROR_PURGED: frozenset({State.GOTO_PURGED}),
    State.ERROR_SCRUBBED: frozenset({State.GOTO_SCRUBBED}),
    State.CLEANED: frozenset({State.UPDATE, State.GOTO_PURGED, State.GOTO_SCRUBBED}),
    State.UPDATE: frozenset({State.FULL, State.UPDATE}),
}
REQUEST_TRANSITIONS: Mapping[RequestState, frozenset[RequestState]] = {
    RequestState.NEW: frozenset({RequestState.RUN, RequestState.PARSED, RequestState.STOP}),
    RequestState.PARSED: frozenset({RequestState.RUN, RequestState.STOP}),
    RequestState.RUN: frozenset({RequestState.STOP}),
    RequestState.STOP: frozenset({RequestState.GOTO_CLEANED, RequestState.RUN}),
    RequestState.GOTO_CLEANED: frozenset({RequestState.CLEANED}),
}
JOB_TRANSITIONS: Mapping[JobState, frozenset[JobState]] = {
    JobState.RUN: frozenset({JobState.STOP, JobState.CANCEL}),
    JobState.PARSED: frozenset({JobState.RUN, JobState.STOP, JobState.CANCEL}),
    JobState.STOP: frozenset({JobState.RUN}),
}
DEPENDENT_TRANSITIONS: Mapping[DependentState, frozenset[DependentState]] = {
    DependentState.NEW: frozenset({DependentState.HOLD, DependentState.FULL}),
    DependentState.HOLD: frozenset({DependentState.NEW, DependentState.FULL}),
    DependentState.FULL: frozenset({DependentState.NEW}),
}


@dataclass(frozen=True)
class Stage:
    """One IPP stage: its tables and columns, inputs, state vocabulary and capabilities."""

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
    #: the state vocabulary (an enum): every state written is one of these
    vocabulary: type[StrEnum] = State
    #: normal transitions (from -> allowed next states)
    transitions: Mapping = field(default_factory=lambda: IMAGE_TRANSITIONS, compare=False, hash=False)
    #: block table for labels (chipMask, warpMask...)
    mask_table: str | None = None
    #: the upstream stages this stage reads, the first is the primary input
    inputs: tuple[Input, ...] = ()
    #: join path from the run table to rawExp; derived from the primary input when empty
    exposure_path: tuple[Link, ...] = ()
    #: lives in the stamp request database rather than the image database
    pstamp_db: bool = False
    #: component data states that setupdate will move to 'update'
    update_from_data_states: tuple[State, ...] = ()
    #: a whole-run setupdate moves bad-quality components in these data states to 'full' ...
    sweep_in: tuple[State, ...] = ()
    #: ... or in any data state but these
    sweep_not_in: tuple[State, ...] = ()
    #: run column that setupdate writes (chipRun.update_mode)
    update_mode_col: str | None = None
    #: a second table of faulted rows (warp's overlap map)
    fault_map: FaultMap | None = None
    #: rows `show` lists beside the components
    related: tuple[Related, ...] = ()
    #: rows a run needs before `revert` touches it (stages.joins.guard_conditions)
    guards: tuple[Guard, ...] = ()
    #: run states in which a run still reads its inputs' files (cleanup holds the inputs)
    reading_states: tuple[StrEnum, ...] = ACTIVE_STATES
    #: why cleanup holds an input of a run in reading_states
    reading_note: str = "downstream run still processing"
    #: columns `runs` lists (default: id, one-to-one input, state, run_columns)
    list_columns: tuple[str, ...] = ()
    #: component column of the seeing (FWHM) the nightly reports judge a visit by
    #: (averaged over the good components of a run with several)
    fwhm_col: str | None = None
    #: how reports name the stage in words ("camera"); default: its name
    title: str = ""
    capabilities: frozenset[str] = frozenset({"runs"})
    description: str = ""
    #: set by register(): the exposure is one row per run (no fan-out through input tables)
    flat_exposure: bool = field(default=False, compare=False)

    # ------------------------------------------------------------ properties
    @property
    def has_components(self) -> bool:
        return self.component_table is not None

    @property
    def one_component(self) -> bool:
        """The run has a single component row (camProcessedExp): its quality,
        fault and FWHM are the run's own."""
        return self.component_table is not None and not self.component_key

    @property
    def noun(self) -> str:
        return self.title or self.name

    @property
    def states(self) -> tuple[str, ...]:
        return tuple(self.vocabulary)

    @property
    def component_link(self) -> str:
        """The component-table column that holds the run id."""
        return self.id_col

    @property
    def bad_quality_sweep(self) -> bool:
        return bool(self.sweep_in or self.sweep_not_in)

    @property
    def updatable(self) -> bool:
        return "updaterun" in self.capabilities

    @property
    def parent(self) -> tuple[str, str] | None:
        """(upstream stage, run-table column) of a one-to-one primary input."""
        if self.inputs and self.inputs[0].table == self.run_table:
            return (self.inputs[0].stage, self.inputs[0].up_col)
        if not self.inputs and self.exposure_path and self.exposure_path[0].table == self.run_table:
            return ("exposure", self.exposure_path[0].column)
        return None

    @property
    def id_option(self) -> str:
        """The option that names runs of this stage (--chip-id)."""
        return "--" + self.id_col.replace("_", "-")

    @property
    def upstream(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(i.stage for i in self.inputs))

    @property
    def downstream(self) -> tuple[str, ...]:
        return tuple(s.name for s in STAGES.values() if self.name in s.upstream)

    def can(self, capability: str) -> bool:
        _check_capability(capability)
        return capability in self.capabilities

    # ------------------------------------------------------------ states
    def validate_state(self, state: str) -> StrEnum:
        """The vocabulary member for *state*; a usage error (exit 2) otherwise."""
        try:
            return self.vocabulary(state)
        except ValueError:
            raise UsageError(
                f"invalid state {state!r} for stage {self.name}; valid: {', '.join(self.states)}"
            ) from None

    def allows(self, old: str | None, new: str) -> bool:
        """Whether *old* -> *new* is a normal transition of this stage."""
        new = self.validate_state(new)
        if old is None:
            return True
        return old == new or new in self.transitions.get(old, ())

    def check_transition(self, old: str | None, new: str) -> StrEnum:
        """Validate a state write that follows the life cycle (not updaterun)."""
        member = self.validate_state(new)
        if not self.allows(old, member):
            raise UsageError(f"stage {self.name}: a run in state {old!r} cannot move to {member!r}")
        return member

    def states_into(self, new: str) -> tuple[StrEnum, ...]:
        """The states from which *new* is a normal transition."""
        new = self.validate_state(new)
        return tuple(s for s in self.vocabulary if new in self.transitions.get(s, ()))

    def in_sweep(self, data_state: str | None, quality: int | None) -> bool:
        """Whether a whole-run setupdate sets this component to 'full'."""
        if not self.bad_quality_sweep or not quality or data_state is None:
            return False
        if self.sweep_in:
            return data_state in self.sweep_in
        return data_state not in self.sweep_not_in

    def fault_meaning(self, code: int | None) -> str:
        return fault_meaning(code, pstamp=self.pstamp_db)


# ---------------------------------------------------------------------- the registry

STAGES: dict[str, Stage] = {}
_ALIASES = {"camera": "cam", "request": "pstamp-request", "req": "pstamp-request",
            "job": "pstamp-job", "dependent": "pstamp-dependent", "dep": "pstamp-dependent",
            "pstamp": "pstamp-request"}


def _check_capability(capability: str) -> None:
    if capability not in CAPABILITIES:
        raise ValueError(f"unknown stage capability {capability!r}")


def _derive(stage: Stage) -> Stage:
    """Fill the exposure path from the primary input (its upstream's path)."""
    import dataclasses

    unknown = set(stage.capabilities) - CAPABILITIES
    if unknown:
        raise ValueError(f"stage {stage.name}: unknown capabilities {sorted(unknown)}")
    path = stage.exposure_path
    flat = bool(path) and all(link.table == stage.run_table for link in path[:1])
    primary = next((i for i in stage.inputs if i.exposure), None)
    if not path and primary is not None:
        up = STAGES.get(primary.stage)
        if up is None:
            raise ValueError(f"stage {stage.name}: register its input {primary.stage} first")
        if up.exposure_path:
            if primary.table == stage.run_table:
                first = (Link(stage.run_table, primary.up_col, up.run_table, up.id_col),)
                flat = up.flat_exposure
            else:
                first = (Link(stage.run_table, stage.id_col, primary.table, primary.run_col),
                         Link(primary.table, primary.up_col, up.run_table, up.id_col))
                flat = False
            path = first + up.exposure_path
    return dataclasses.replace(stage, exposure_path=path, flat_exposure=flat and bool(path))


def register(stage: Stage) -> Stage:
    """Add (or replace) a stage; every command asking for its capabilities sees it."""
    stage = _derive(stage)
    STAGES[stage.name] = stage
    return stage


def unregister(name: str) -> None:
    """Remove a stage (tests that register a stage of their own)."""
    STAGES.pop(name, None)


def stages_that(capability: str, *, pstamp_db: bool | None = None) -> tuple[str, ...]:
    """Names of the stages with *capability*, in pipeline (registration) order."""
    _check_capability(capability)
    return tuple(n for n, s in STAGES.items() if capability in s.capabilities
                 and (pstamp_db is None or s.pstamp_db == pstamp_db))


def get_stage(name: str | Stage, *, allowed: Iterable[str] | None = None,
              capability: str | None = None) -> Stage:
    """The stage called *name* (or an alias), or a usage error naming the choices."""
    names = tuple(allowed) if allowed is not None else (
        stages_that(capability) if capability else tuple(STAGES))
    if isinstance(name, Stage):
        if name.name not in names:
            raise UsageError(f"stage {name.name} not supported here; choose one of: {', '.join(names)}")
        return STAGES.get(name.name, name)
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in STAGES or key not in names:
        raise UsageError(f"unknown stage {name!r}; choose one of: {', '.join(names)}")
    return STAGES[key]


def choices(capability: str, *, last: str = ", ") -> str:
    """The stages with *capability* as text for help ("chip, warp or diff")."""
    names = stages_that(capability)
    if len(names) < 2 or last == ", ":
        return ", ".join(names)
    return ", ".join(names[:-1]) + last + names[-1]


def stage_order() -> dict[str, int]:
    """Pipeline position of every stage (for sorting rows of several stages)."""
    return {n: i for i, n in enumerate(STAGES)}


# ---------------------------------------------------------------------- the IPP stages

_IMAGE = frozenset({"runs", "faults", "revert", "updaterun"})

CHIP = register(Stage(
    name="chip", run_table="chipRun", id_col="chip_id",
    component_table="chipProcessedImfile", component_key=("class_id",),
    mask_table="chipMask", exposure_path=(Link("chipRun", "exp_id", "rawExp", "exp_id"),),
    update_from_data_states=(State.CLEANED,), sweep_in=(State.CLEANED, State.UPDATE),
    update_mode_col="update_mode", fwhm_col="fwhm_major",
    list_columns=("chip_id", "exp_id", "state", "label", "data_group", "dist_group", "reduction",
                  "tess_id", "end_stage", "workdir"),
    capabilities=_IMAGE | {"setupdate", "cleanup", "define", "block", "fixbroken", "nightly",
                           "nightfaults", "labelcount", "drop"},
    description="detrended chips (OTAs) of one exposure; component = class_id (XY01..XY76)",
))
CAM = register(Stage(
    name="cam", run_table="camRun", id_col="cam_id",
    component_table="camProcessedExp", component_key=(), data_state_col=None,
    mask_table="camMask", inputs=(Input("chip", "camRun", "cam_id", "chip_id"),),
    fwhm_col="fwhm_major", title="camera",
    list_columns=("cam_id", "chip_id", "state", "label", "data_group", "dist_group", "reduction",
                  "workdir"),
    capabilities=_IMAGE | {"cleanup", "block", "nightly", "nightfaults", "labelcount"},
    description="camera-stage astrometry/photometry of one exposure; one camProcessedExp row",
))
FAKE = register(Stage(
    name="fake", run_table="fakeRun", id_col="fake_id",
    component_table="fakeProcessedImfile", component_key=("class_id",), quality_col=None,
    mask_table="fakeMask", inputs=(Input("cam", "fakeRun", "fake_id", "cam_id"),),
    list_columns=("fake_id", "cam_id", "state", "label", "data_group", "dist_group", "workdir"),
    capabilities=frozenset({"runs", "faults", "revert", "block", "nightfaults"}),
    description="fake-source stage between camera and warp",
))
WARP = register(Stage(
    name="warp", run_table="warpRun", id_col="warp_id",
    component_table="warpSkyfile", component_key=("skycell_id",),
    mask_table="warpMask", inputs=(Input("fake", "warpRun", "warp_id", "fake_id"),),
    update_from_data_states=(State.CLEANED, State.UPDATE), sweep_not_in=(State.FULL,),
    fault_map=FaultMap("warpSkyCellMap", "skycell_id", "faulted", "overlap"),
    list_columns=("warp_id", "fake_id", "state", "label", "data_group", "dist_group", "tess_id",
                  "reduction", "workdir"),
    capabilities=_IMAGE | {"setupdate", "cleanup", "define", "block", "fixbroken", "nightly",
                           "nightfaults", "labelcount"},
    description="exposure warped onto skycells (RINGS.V3); component = skycell_id",
))
STACK = register(Stage(
    name="stack", run_table="stackRun", id_col="stack_id",
    component_table="stackSumSkyfile", component_key=(), data_state_col=None,
    inputs=(Input("warp", "stackInputSkyfile", "stack_id", "warp_id", exposure=False),),
    list_columns=("stack_id", "state", "label", "data_group", "skycell_id", "tess_id", "filter",
                  "reduction"),
    capabilities=_IMAGE,
    description="stack of warps on one skycell and filter (templates for WS diffs)",
))
DIFF = register(Stage(
    name="diff", run_table="diffRun", id_col="diff_id",
    component_table="diffSkyfile", component_key=("skycell_id",),
    inputs=(Input("warp", "diffInputSkyfile", "diff_id", "warp1"),
            Input("warp", "diffInputSkyfile", "diff_id", "warp2", exposure=False),
            Input("stack", "diffInputSkyfile", "diff_id", "stack1", exposure=False),
            Input("stack", "diffInputSkyfile", "diff_id", "stack2", exposure=False)),
    update_from_data_states=(State.CLEANED, State.UPDATE),
    related=(Related("inputs", "diffInputSkyfile", "diff_id", order_by=("skycell_id",)),),
    list_columns=("diff_id", "state", "label", "data_group", "dist_group", "diff_mode", "reduction",
                  "tess_id", "bothways", "workdir"),
    capabilities=_IMAGE | {"setupdate", "cleanup", "warpstack", "fixbroken", "nightly", "nightfaults",
                           "labelcount"},
    description="difference image (WW: warp-warp, WS: warp-stack); component = skycell_id",
))
PUBLISH = register(Stage(
    name="publish", run_table="publishRun", id_col="pub_id",
    component_table="publishDone", component_key=(), data_state_col=None, quality_col=None,
    run_columns=("label",),
    inputs=(Input("diff", "publishRun", "pub_id", "stage_id",
                  via=Guard("publishClient", "client_id", "client_id", equals=(("stage", "diff"),))),),
    # a diff is held by cleanup while its publication is queued (new/pending)
    reading_states=PUBLISH_WAITING_STATES, reading_note="publishing still pending",
    list_columns=("pub_id", "client_id", "stage_id", "label", "state"),
    # revert = pubtool -revert: the faulted publishDone rows of 'new' runs of an
    # active diff client are deleted, so the publisher tries them again
    guards=(Guard("publishClient", "client_id", "client_id", nonzero=("active",),
                  equals=(("stage", "diff"),)),),
    capabilities=frozenset({"runs", "faults", "revert", "nightly", "nightfaults"}),
    description="publishing of diff catalogs to the MOPS DataStore (publishRun/publishDone)",
))
PSTAMP_REQUEST = register(Stage(
    name="pstamp-request", run_table="pstampRequest", id_col="req_id",
    component_table="pstampJob", component_key=("job_id",), data_state_col="state",
    quality_col=None, run_columns=("label", "name"), vocabulary=RequestState,
    transitions=REQUEST_TRANSITIONS, pstamp_db=True,
    related=(Related("dependents", "pstampDependent", "dep_id", order_by=("dep_id",),
                     through="pstampJob", through_run_col="req_id", through_col="dep_id"),),
    list_columns=("req_id", "name", "state", "label", "reqType", "fault", "username", "registered",
                  "timestamp"),
    description="postage stamp request (one uploaded request file); components = its jobs",
))
PSTAMP_JOB = register(Stage(
    name="pstamp-job", run_table="pstampJob", id_col="job_id",
    component_table=None, data_state_col=None, quality_col=None, run_columns=(),
    vocabulary=JobState, transitions=JOB_TRANSITIONS, pstamp_db=True,
    list_columns=("job_id", "req_id", "rownum", "state", "jobType", "fault", "fault_count", "exp_id",
                  "dep_id"),
    description="one stamp job of a request (one row of the request file and image)",
))
PSTAMP_DEPENDENT = register(Stage(
    name="pstamp-dependent", run_table="pstampDependent", id_col="dep_id",
    component_table=None, data_state_col=None, quality_col=None, run_columns=(),
    vocabulary=DependentState, transitions=DEPENDENT_TRANSITIONS, pstamp_db=True,
    list_columns=("dep_id", "state", "stage", "stage_id", "component", "imagedb", "rlabel", "fault",
                  "fault_count"),
    description="an image a stamp job waits for (a chip/warp/diff component being updated)",
))
