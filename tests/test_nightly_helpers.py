"""Builders of survey fields for the nightly tests (no tests in this module).

``build_field`` makes the exposures of one field (object + chunk + filter) of a
night, each visit processed to the state its spec names:

    ok, bad_quality (camera quality 4007), bad_fwhm (camera FWHM 8.1),
    dropped (warp state drop), chip_fault, warp_fault, processing (chip run new,
    no faults), missing (no exposure)

A visit may be a list of specs: the exposures of a repeated visit, in time order.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from mopstool.ops.demo.synth import Chain, Synth

NIGHT = date(2018, 7, 10)
CLASS_IDS = ("XY01", "XY02", "XY10", "XY11")
SKYCELLS = ["skycell.1200.040", "skycell.1200.041", "skycell.1200.042"]


def _chain(s: Synth, spec: str, *, label: str, data_group: str, skycells: list[str], **exp_kw) -> Chain:
    ch = s.exposure(reduction="SWEETSPOT", **exp_kw)
    chip_state = "new" if spec in ("chip_fault", "processing") else "full"
    imfiles = {"XY02": {"fault": 2}} if spec == "chip_fault" else \
        {"XY02": {"missing": True}} if spec == "processing" else None
    s.chip(ch, label=label, data_group=data_group, state=chip_state, imfiles=imfiles, class_ids=CLASS_IDS)
    if chip_state != "full":
        return ch
    s.cam(ch, label=label, data_group=data_group, quality=4007 if spec == "bad_quality" else 0,
          fwhm_major=8.1 if spec == "bad_fwhm" else 4.5)
    if spec == "bad_quality":
        return ch
    s.fake(ch, label=label, data_group=data_group)
    warp_state = {"dropped": "drop", "warp_fault": "new"}.get(spec, "full")
    sky = {skycells[0]: {"fault": 2}} if spec == "warp_fault" else None
    s.warp(ch, label=label, data_group=data_group, skycells=skycells, state=warp_state, skyfiles=sky)
    return ch


def build_field(s: Synth, *, visits: dict[int, str | list[str]], target: str = "OSS",
                obj: str = "OSS.R20S1.001", chunk: str = "OSSR.R20S1.12.Q.w", filt: str = "w.00000",
                obs_mode: str | None = None, night: date = NIGHT, hour: float = 7.0,
                skycells: list[str] | None = None, numbered: bool = True,
                cadence_min: float = 17.0) -> dict[int, list[Chain]]:
    """Exposures of one field; returns visit -> chains (time order)."""
    label = f"{target}.nightlyscience"
    data_group = f"{target}.{night:%Y%m%d}"
    start = datetime(night.year, night.month, night.day) + timedelta(hours=hour)
    out: dict[int, list[Chain]] = {}
    for v in sorted(visits):
        specs = visits[v] if isinstance(visits[v], list) else [visits[v]]
        for k, spec in enumerate(specs):
            if spec == "missing":
                continue
            comment = f"{chunk} visit {v}" if numbered else f"{chunk} pass{chr(96 + v)}"
            ch = _chain(s, spec, label=label, data_group=data_group, skycells=skycells or SKYCELLS,
                        dateobs=start + timedelta(minutes=cadence_min * (v - 1) + 3 * k), filter=filt,
                        comment=comment, object=obj, obs_mode=obs_mode or target)
            out.setdefault(v, []).append(ch)
    return out


def ww_diff(s: Synth, a: Chain, b: Chain, *, target: str = "OSS", night: date = NIGHT,
            skycells: list[str] | None = None) -> int:
    """A WW diff as nightly_science makes it (input a, template b)."""
    return s.diff(label=f"{target}.nightlyscience", data_group=f"{target}.{night:%Y%m%d}",
                  skycells=skycells or SKYCELLS, warp1=a.warp_id, warp2=b.warp_id)


def by_object(rows: list[dict]) -> dict[str, dict]:
    return {r["object"]: r for r in rows}


def pairs_of(rows: list[dict], obj: str, kind: str | None = None) -> list[tuple[int, int, str]]:
    """(input visit, template visit, status) of the diffpairs rows of one object."""
    return sorted((r["input"]["visit"], r["template"]["visit"], r["status"]) for r in rows
                  if r["object"] == obj and (kind is None or r["kind"] == kind))
