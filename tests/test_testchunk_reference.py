"""testchunk compare gives the recorded result on a fixed synthetic set.

tests/data/testchunk_reference.npz holds the whole result of ``compare`` (every
per-cell row, the summary, the tracklet summaries with counts and lengths, the
checks, every offset and every GCR, in order) on the two versions written
below, at the default rate limit and at 1.5 deg/day, as computed by the
implementation before the vectorised one. A change that alters any number
fails here: counts and lengths must be equal, floats equal within 1e-9
relative, GCRs within 1e-6 (trigonometry may differ in the last bits
between machines).

To record it again after an intended change of results:

    python tests/test_testchunk_reference.py
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

from mopstool.config import load_config
from mopstool.ops.testchunk.compare import compare
from mopstool.ops.testchunk.synth import VersionSpec, quad, write_versions

REFERENCE = Path(__file__).resolve().parent / "data" / "testchunk_reference.npz"
#: (name, max rate deg/day, B listed with one file twice: its detections
#: duplicated in one cell, so linking drops them and matching has ties)
RUNS = (("0.5", 0.5, False), ("1.5", 1.5, False), ("0.5.dup", 0.5, True))
ARRAYS = ("dra", "ddec", "sep", "sigma", "dmag", "mag_a")


def write_set(root: Path):
    """Three adjacent skycells (movers cross their overlaps: duplicates), four
    visits, B with twice A's scatter, a bias, a magnitude bias, flags, edge junk."""
    return write_versions(root / "A", root / "B",
                          quad(["skycell.1200.044", "skycell.1200.045", "skycell.1200.046"]),
                          VersionSpec(scatter_a_arcsec=0.05, scatter_b_arcsec=0.10, bias_arcsec=(0.05, 0.3),
                                      mag_bias=0.04, transients=250, movers=80, extra_b=25,
                                      flag_fraction_b=0.05, seed=23))


def results(vs, root: Path) -> dict:
    """run name -> (the JSON-able result, {name: array})."""
    listed = root / "b_twice.txt"
    listed.write_text("\n".join(vs.files_b + vs.files_b[:1]) + "\n")
    out = {}
    for name, rate, dup in RUNS:
        cfg = load_config()
        cfg.set("testchunk.max_rate_deg_per_day", rate)
        res = compare(vs.dir_a, str(listed) if dup else vs.dir_b, cfg)
        arrays = {f"offsets.{f}": np.asarray(getattr(res.offsets, f)) for f in ARRAYS}
        arrays["gcr_a"], arrays["gcr_b"] = np.asarray(res.gcr_a), np.asarray(res.gcr_b)
        doc = res.to_dict()
        doc["a"] = doc["b"] = None          # the directories, different per run
        out[name] = (doc, arrays)
    return out


def _rtol(name: str) -> float:
    """GCRs (1e-7 rad) are differences of unit vectors (1): a last-place
    difference in the trigonometry of another machine moves them by ~1e-9."""
    return 1e-6 if "gcr" in name else 1e-9


def _same(want, got, where: str) -> None:
    if isinstance(want, dict):
        assert set(want) == set(got), (where, sorted(set(want) ^ set(got)))
        for k in want:
            _same(want[k], got[k], f"{where}.{k}")
    elif isinstance(want, list):
        assert len(want) == len(got), (where, len(want), len(got))
        for i, (w, g) in enumerate(zip(want, got)):
            _same(w, g, f"{where}[{i}]")
    elif isinstance(want, float) and not isinstance(got, bool):
        assert isinstance(got, (float, int)), (where, want, got)
        rel = _rtol(where)
        assert (math.isnan(want) and math.isnan(got)) or math.isclose(want, got, rel_tol=rel, abs_tol=1e-12), \
            (where, want, got)
    else:
        assert want == got and type(want) is type(got), (where, want, got)


@pytest.fixture(scope="module")
def now(tmp_path_factory):
    root = tmp_path_factory.mktemp("tcref")
    return results(write_set(root), root)


def test_the_whole_result_is_the_recorded_one(now):
    ref = np.load(REFERENCE)
    for run, _, _ in RUNS:
        doc, arrays = now[run]
        want = json.loads(str(ref[f"{run}.json"]))
        # JSON has no tuples: compare the result as it would be written
        _same(want, json.loads(json.dumps(doc)), f"run {run}")
        for name, got in arrays.items():
            # the offsets do not depend on the rate limit: recorded once
            w = ref[f"{run}.{name}" if f"{run}.{name}" in ref else f"0.5.{name}"]
            assert w.shape == got.shape and w.dtype == got.dtype, (run, name, w.shape, got.shape)
            assert np.allclose(w, got, rtol=_rtol(name), atol=1e-12, equal_nan=True), (run, name)
    # the set exercises what the numbers depend on
    d5, d15, dup = now["0.5"][0], now["1.5"][0], now["0.5.dup"][0]
    assert d5["tracklets"]["a"]["tracklets"] >= 50 and d15["tracklets"]["a"]["pairs"] > d5["tracklets"]["a"]["pairs"]
    assert d15["tracklets"]["a"]["ambiguous"] > 0 and len(d15["tracklets"]["b"]["tracklets_by_length"]) > 1
    assert d5["summary"]["only_b"] > 0 and d5["summary"]["flag_rate_b"] > 0
    assert dup["tracklets"]["b"]["detections"] == d5["tracklets"]["b"]["detections"] < dup["summary"]["b"]


def test_order_statistics_are_numpys():
    from mopstool.ops.testchunk.compare import _order_stats

    rng = np.random.default_rng(0)
    for n in list(range(1, 30)) + [99, 100, 101, 4999, 5000]:
        for scale in (1e-3, 1.0, 1e5):
            x = rng.normal(size=n) * scale
            x[: n // 3] = np.round(x[: n // 3], 1)        # ties
            med, p90 = _order_stats(x.copy(), p90=True)
            assert med == float(np.median(x)) and p90 == float(np.percentile(x, 90)), (n, scale)
    assert _order_stats(np.zeros(0), p90=True) == (None, None)
    # large sets (a sample bounds the ranks): random, many ties, sorted, and
    # a period of the sample's stride (the sample misses: the whole set is used)
    n = 300_001
    stride = n // 4096
    for x in (rng.normal(size=n), np.round(rng.normal(size=n), 2), np.where(rng.random(n) < 0.999, 0.0, 1.0),
              np.sort(rng.normal(size=n)), np.arange(n) % stride * 1.0, -np.arange(n + 1, dtype=float)):
        med, p90 = _order_stats(x.copy(), p90=True)
        assert med == float(np.median(x)) and p90 == float(np.percentile(x, 90))
        assert _order_stats(np.abs(x), median=False, p90=True)[1] == float(np.percentile(np.abs(x), 90))


if __name__ == "__main__":
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        res = results(write_set(Path(tmp)), Path(tmp))
    data = {}
    for run, (doc, arrays) in res.items():
        data[f"{run}.json"] = np.array(json.dumps(doc))
        data.update({f"{run}.{k}": v for k, v in arrays.items() if run != "1.5" or not k.startswith("offsets.")})
    REFERENCE.parent.mkdir(exist_ok=True)
    np.savez_compressed(REFERENCE, **data)
    print(f"wrote {REFERENCE} ({REFERENCE.stat().st_size:,} bytes)", file=sys.stderr)
