"""Run selection: kept as a re-export of :mod:`mopstool.stages.joins`, where
every join between stages is written once. New code imports from there."""

from __future__ import annotations

from mopstool.stages.joins import (  # noqa: F401  (re-exported)
    RunFilter,
    component_exists,
    eq_any,
    exposure_join,
    like_any,
    night_condition,
    night_run_condition,
    run_conditions,
    run_filter_conditions,
    run_ids_for_night,
)
