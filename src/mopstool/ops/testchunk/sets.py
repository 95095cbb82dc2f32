"""Named MOPS test sets ([testchunk.sets.NAME] of the config).

A test set is a quad or chunk of exposures that is reprocessed whenever the
ops tag (the IPP software version used for the nightly processing) changes,
so that its diff products can be compared with a reference processing.

Keys of a set (all optional except where said):

* ``chunk``: the chunk (exposure comment up to its first space); required to
  select by query and to make diffs;
* ``night``: the UTC night, YYYY-MM-DD; required to select by query;
* ``filter``: filter band (``w``, ``i``) or full name (``w.00000``);
* ``exposures``: explicit exposure names (then chunk/night only label it);
* ``comment`` / ``object``: SQL LIKE patterns on rawExp (default comment
  ``"<chunk> %"``);
* ``camera``: GPC1 or GPC2 (informational);
* ``target``: the survey target whose cuts (max_fwhm, reduction, dist_group)
  the set's diffs use (default OSS);
* ``label``: template of the label (default ``[testchunk] label``, i.e.
  ``MOPS.testchunk.{chunk}.{date}.{tag}``);
* ``ws``, ``ws_stack_label``: plan warp-stack diffs against these stacks;
* ``description``, ``source`` (where the set is named), ``assumed`` (what the
  shipped entry assumes beyond its source).

A set without exposures and without chunk + night is *undefined*: it is
listed, and ``define`` refuses it naming the keys to add.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from typing import Any

from mopstool.config import Config, expand_template, parse_night
from mopstool.errors import ConfigError, UsageError

SET_KEYS = ("description", "chunk", "night", "filter", "exposures", "comment", "object", "camera",
            "target", "label", "ws", "ws_stack_label", "source", "assumed", "workdir", "reduction",
            "tess_id", "desperate")
DEFAULT_LABEL = "MOPS.testchunk.{chunk}.{date}.{tag}"


@dataclass
class TestSet:
    name: str
    description: str = ""
    chunk: str = ""
    night: date | None = None
    filter: str = ""
    exposures: list[str] = field(default_factory=list)
    comment: str = ""
    object: str = ""
    camera: str = ""
    target: str = "OSS"
    label: str = ""
    ws: bool = False
    ws_stack_label: str = ""
    source: str = ""
    assumed: list[str] = field(default_factory=list)
    workdir: str = ""
    reduction: str = ""
    tess_id: str = ""
    desperate: bool = False

    @property
    def defined(self) -> bool:
        return bool(self.exposures) or bool(self.chunk and self.night)

    @property
    def selection(self) -> str:
        if self.exposures:
            return f"{len(self.exposures)} exposures"
        if self.chunk and self.night:
            pat = self.comment_pattern
            extra = f", object {self.object}" if self.object else ""
            return f"comment LIKE '{pat}' on {self.night}{extra}"
        return "undefined"

    @property
    def comment_pattern(self) -> str:
        return self.comment or (f"{self.chunk} %" if self.chunk else "")

    @property
    def status(self) -> str:
        if not self.defined:
            return "undefined"
        return "assumed" if self.assumed else "ok"

    def missing_keys(self) -> list[str]:
        if self.defined:
            return []
        return ["exposures"] if not self.chunk else ["night"] if not self.night else ["exposures"]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "description": self.description, "chunk": self.chunk or None,
                "night": self.night, "filter": self.filter or None, "camera": self.camera or None,
                "exposures": list(self.exposures), "selection": self.selection,
                "label_template": self.label or None, "target": self.target, "ws": self.ws,
                "status": self.status, "source": self.source or None, "assumed": list(self.assumed)}


def _as_list(value: Any, what: str) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    raise ConfigError(f"{what} must be a string or a list of strings")


def _parse(name: str, raw: dict) -> TestSet:
    if not isinstance(raw, dict):
        raise ConfigError(f"[testchunk.sets.{name}] must be a table")
    unknown = sorted(set(raw) - set(SET_KEYS))
    if unknown:
        raise ConfigError(f"[testchunk.sets.{name}] has unknown keys: {', '.join(unknown)}; "
                          f"known: {', '.join(SET_KEYS)}")
    night = None
    if raw.get("night"):
        try:
            night = parse_night(str(raw["night"]))
        except UsageError:
            raise ConfigError(f"[testchunk.sets.{name}] night {raw['night']!r} is not YYYY-MM-DD") from None
    return TestSet(
        name=name, description=str(raw.get("description") or ""), chunk=str(raw.get("chunk") or ""),
        night=night, filter=str(raw.get("filter") or ""),
        exposures=_as_list(raw.get("exposures"), f"[testchunk.sets.{name}] exposures"),
        comment=str(raw.get("comment") or ""), object=str(raw.get("object") or ""),
        camera=str(raw.get("camera") or ""), target=str(raw.get("target") or "OSS"),
        label=str(raw.get("label") or ""), ws=bool(raw.get("ws", False)),
        ws_stack_label=str(raw.get("ws_stack_label") or ""), source=str(raw.get("source") or ""),
        assumed=_as_list(raw.get("assumed"), f"[testchunk.sets.{name}] assumed"),
        workdir=str(raw.get("workdir") or ""), reduction=str(raw.get("reduction") or ""),
        tess_id=str(raw.get("tess_id") or ""), desperate=bool(raw.get("desperate", False)))


def load_sets(cfg: Config) -> dict[str, TestSet]:
    """Every configured test set, in config order."""
    raw = cfg.get("testchunk.sets") or {}
    return {name: _parse(name, value) for name, value in raw.items()}


def label_for(cfg: Config, ts: TestSet, tag: str) -> str:
    """The label of a reprocessing of *ts* tagged *tag*."""
    if not tag or not tag.strip():
        raise UsageError("--tag cannot be empty")
    if any(c in tag for c in " %_'\"\\/"):
        raise UsageError(f"--tag {tag!r}: use letters, digits, '.' and '-' only")
    template = ts.label or str(cfg.get("testchunk.label", DEFAULT_LABEL))
    date_s = ts.night.strftime("%Y%m%d") if ts.night else ""
    if "{chunk}" in template and not ts.chunk:
        raise ConfigError(f"test set {ts.name} has no chunk for its label {template}")
    if "{date}" in template and not date_s:
        raise ConfigError(f"test set {ts.name} has no night for its label {template}")
    return expand_template(template, chunk=ts.chunk, date=date_s, tag=tag.strip(), name=ts.name)


def base_label(cfg: Config, ts: TestSet) -> str | None:
    """The label without its tag (``MOPS.testchunk.<chunk>.<date>``), when it has one."""
    try:
        full = label_for(cfg, ts, "TAG")
    except (ConfigError, UsageError):
        return None
    return full[:-len(".TAG")] if full.endswith(".TAG") else None


def get_set(cfg: Config, name: str) -> TestSet:
    """A set by its name, or by its untagged label (case-insensitive)."""
    sets = load_sets(cfg)
    for key, ts in sets.items():
        if key.lower() == name.lower():
            return ts
    for ts in sets.values():
        b = base_label(cfg, ts)
        if b and b.lower() == name.lower():
            return ts
    raise UsageError(f"unknown test set {name!r}; configured: {', '.join(sets) or '(none)'} "
                     "(mopstool testchunk list)")
