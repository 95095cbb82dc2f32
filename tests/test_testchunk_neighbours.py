"""ops.testchunk.neighbours: the plane binning finds every close pair (checked
against a brute-force KD-tree), within groups only, and the bitmap never
answers "no" for a position that has a point within the distance."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial import cKDTree

from mopstool.ops.testchunk import neighbours as nb


@pytest.mark.parametrize("max_cells", [1 << 22, 64])
@pytest.mark.parametrize("h", [0.0003, 0.002, 0.01, 0.05])   # sorted keys; a table of squares of h..16h; of h/2
def test_candidates_and_bitmap_miss_nothing(monkeypatch, max_cells, h):
    monkeypatch.setattr(nb.Occupied, "MAX_CELLS", max_cells)
    rng = np.random.default_rng(2)
    q = rng.uniform(0, 1, (2000, 2))
    p = q[rng.integers(0, 2000, 3000)] + rng.uniform(-h, h, (3000, 2)) * 0.99
    p = np.vstack([p, rng.uniform(-0.5, 1.5, (3000, 2))])
    i, j = nb.candidates(p[:, 0], p[:, 1], q[:, 0], q[:, 1], h)
    close = np.hypot(*(p[i] - q[j]).T) < h
    found = set(zip(i[close].tolist(), j[close].tolist()))
    truth = {(a, b) for a, bs in enumerate(cKDTree(q).query_ball_point(p, h * (1 - 1e-9))) for b in bs}
    assert found == truth and len({a for a, _ in truth}) >= 2000
    assert nb.Occupied(q[:, 0], q[:, 1], h).maybe(p[:, 0], p[:, 1])[sorted({a for a, _ in truth})].all()


@pytest.mark.parametrize("h", [0.0001, 0.0005, 0.05])    # sorted keys; one table for all groups; one per group
def test_grouped_candidates_find_every_pair_of_a_group(h):
    rng = np.random.default_rng(3)
    q = rng.uniform(0, 1, (3000, 2))
    gq = rng.integers(0, 40, 3000)
    k = rng.integers(0, 3000, 2000)
    p = q[k] + rng.uniform(-h, h, (2000, 2)) * 0.99
    gp = np.where(rng.uniform(size=2000) < 0.8, gq[k], rng.integers(0, 40, 2000))
    i, j = nb.candidates(p[:, 0], p[:, 1], q[:, 0], q[:, 1], h, gp, gq)
    assert (gp[i] == gq[j]).all()
    close = np.hypot(*(p[i] - q[j]).T) < h
    found = set(zip(i[close].tolist(), j[close].tolist()))
    truth = {(a, b) for a, bs in enumerate(cKDTree(q).query_ball_point(p, h * (1 - 1e-9))) for b in bs
             if gp[a] == gq[b]}
    assert found == truth and len(truth) >= 1000


def test_groups_are_kept_apart_and_self_pairs():
    x = np.array([0.0, 0.0005, 0.0, 0.3])
    y = np.zeros(4)
    g = np.array([0, 0, 1, 1])
    i, j = nb.candidates(x, y, None, None, 0.001, g)
    pairs = {(int(a), int(b)) for a, b in zip(i, j)}
    assert {(0, 0), (0, 1), (1, 0), (1, 1), (2, 2), (3, 3)} == pairs      # 0 and 2 coincide, other group


def test_nearest_picks_the_closest_per_point():
    i = np.array([0, 0, 1, 2, 2, 2])
    j = np.array([5, 6, 7, 8, 9, 4])
    d = np.array([0.3, 0.1, 0.2, 0.5, 0.5, 0.4])
    bi, bj, bd = nb.nearest(i, j, d, 3)
    assert dict(zip(bi.tolist(), bj.tolist())) == {0: 6, 1: 7, 2: 4}


def test_nearest_is_ascending_and_takes_the_smallest_of_equally_near():
    i = np.array([4, 2, 4, 0, 2, 4, 2])
    j = np.array([9, 3, 1, 8, 7, 5, 0])
    d = np.array([0.2, 0.7, 0.2, 0.1, 0.3, 0.5, 0.3])
    bi, bj, bd = nb.nearest(i, j, d, 6)
    assert bi.tolist() == [0, 2, 4] and bj.tolist() == [8, 0, 1] and bd.tolist() == [0.1, 0.3, 0.2]


@pytest.mark.parametrize("h", [0.0002, 0.0006, 0.002, 0.05])   # sorted keys; a shared or coarse table; of h/2
@pytest.mark.parametrize("groups", [False, True])
def test_close_pairs_are_every_candidate_pair_once(h, groups):
    rng = np.random.default_rng(4)
    p = rng.uniform(0, 1, (3000, 2))
    p = np.vstack([p, p[:1000] + rng.uniform(-h, h, (1000, 2))])
    g0 = rng.integers(0, 30, 3000)
    g = np.concatenate([g0, np.where(rng.uniform(size=1000) < 0.8, g0[:1000], rng.integers(0, 30, 1000))]) \
        if groups else None
    i, j = nb.close_pairs(p[:, 0], p[:, 1], h, g)
    assert (i < j).all() and len(set(zip(i.tolist(), j.tolist()))) == len(i)
    ci, cj = nb.candidates(p[:, 0], p[:, 1], None, None, h, g)
    close = (np.hypot(*(p[ci] - p[cj]).T) < h) & (ci < cj)
    near = np.hypot(*(p[i] - p[j]).T) < h
    assert set(zip(i[near].tolist(), j[near].tolist())) == set(zip(ci[close].tolist(), cj[close].tolist()))
    truth = {(a, b) for a, b in cKDTree(p).query_pairs(h * (1 - 1e-9))
             if g is None or g[a] == g[b]}
    assert set(zip(i[near].tolist(), j[near].tolist())) == truth and len(truth) >= 200


@pytest.mark.parametrize("h", [0.0003, 0.002, 0.05])
@pytest.mark.parametrize("groups", [False, True])
def test_sparse_candidates_miss_nothing(h, groups):
    """The sorted-key look-up (sparse_candidates) finds every pair closer than
    h of the same group, and in its half form each unordered pair once."""
    rng = np.random.default_rng(6)
    q = rng.uniform(0, 1, (3000, 2))
    gq = rng.integers(0, 20, 3000) if groups else None
    k = rng.integers(0, 3000, 2000)
    p = np.vstack([q[k] + rng.uniform(-h, h, (2000, 2)) * 0.99, rng.uniform(-0.2, 1.2, (1000, 2))])
    gp = np.concatenate([gq[k], rng.integers(0, 20, 1000)]) if groups else None
    i, j = nb.sparse_candidates(p[:, 0], p[:, 1], q[:, 0], q[:, 1], h, gp, gq)
    if groups:
        assert (gp[i] == gq[j]).all()
    close = np.hypot(*(p[i] - q[j]).T) < h
    found = set(zip(i[close].tolist(), j[close].tolist()))
    truth = {(a, b) for a, bs in enumerate(cKDTree(q).query_ball_point(p, h * (1 - 1e-9))) for b in bs
             if not groups or gp[a] == gq[b]}
    assert found == truth and len(truth) >= 1500
    # half: each unordered pair of distinct points once, every close pair among them
    pts = np.vstack([q, q[:500] + rng.uniform(-h, h, (500, 2)) * 0.5])
    i, j = nb.sparse_candidates(pts[:, 0], pts[:, 1], None, None, h, half=True)
    assert (i < j).all() and len(set(zip(i.tolist(), j.tolist()))) == len(i)
    near = np.hypot(*(pts[i] - pts[j]).T) < h
    assert set(zip(i[near].tolist(), j[near].tolist())) == \
        {(a, b) for a, b in cKDTree(pts).query_pairs(h * (1 - 1e-9))} and near.sum() >= 500


@pytest.mark.parametrize("spread_deg", [0.3, 8.0])
def test_pairs_within_equals_the_exact_chord_test(spread_deg):
    """pairs_within (plane distance where it settles a pair, the chord where it
    does not) keeps exactly the pairs the chord test keeps, pairs at a limit included."""
    from mopstool.sky import chord, unit_rows

    rng = np.random.default_rng(7)
    n = 4000
    ra = 150 + rng.uniform(-spread_deg, spread_deg, n)
    dec = 20 + rng.uniform(-spread_deg, spread_deg, n) / 2
    p = unit_rows(ra, dec)
    reach, rmin = np.radians(spread_deg / 40), np.radians(spread_deg / 400)
    # Q: random, plus points at (about) the two limits from points of P
    k = rng.integers(0, n, 600)
    sep = np.concatenate([np.full(300, reach), np.full(300, rmin)]) * (1 + rng.uniform(-1e-9, 1e-9, 600))
    pa = rng.uniform(0, 2 * np.pi, 600)
    dra = np.degrees(sep * np.cos(pa)) / np.cos(np.radians(dec[k]))
    qra = np.concatenate([150 + rng.uniform(-spread_deg, spread_deg, n), ra[k] + dra])
    qdec = np.concatenate([20 + rng.uniform(-spread_deg, spread_deg, n) / 2, dec[k] + np.degrees(sep * np.sin(pa))])
    q = unit_rows(qra, qdec)
    plane = nb.Plane(p.sum(axis=1))
    cp, cq = plane.components_t(p), plane.components_t(q)
    cos_min = min(float(cp[0].min()), float(cq[0].min()))
    h = nb.cell_side(reach, cos_min)
    i, j = nb.pairs_within(p, cp[1] / cp[0], cp[2] / cp[0], q, cq[1] / cq[0], cq[2] / cq[0], h, cos_min,
                           chord(reach), chord(rmin))
    ci, cj = nb.candidates(cp[1] / cp[0], cp[2] / cp[0], cq[1] / cq[0], cq[2] / cq[0], h)
    wi, wj, _ = nb.within(p.T, q.T, ci, cj, chord(reach), chord(rmin))
    assert sorted(zip(i.tolist(), j.tolist())) == sorted(zip(wi.tolist(), wj.tolist())) and len(wi) >= 300


def test_merged_positions_are_searchsorted():
    """The merge of two sorted key arrays gives numpy.searchsorted(side="left"),
    with ties between and within the arrays, negative keys and empty arrays."""
    rng = np.random.default_rng(8)
    for n in (0, 1, 7, 5000):
        for m in (0, 1, 9, 3000):
            a = np.sort(rng.integers(-40, 40, n))
            v = np.sort(rng.integers(-50, 50, m))
            got = nb.merged_positions(a, v)
            assert got.dtype == np.int64 and np.array_equal(got, np.searchsorted(a, v, side="left")), (n, m)
    big = np.sort(rng.integers(-(1 << 61), 1 << 61, 2000))
    v = np.sort(np.concatenate([big[::7], rng.integers(-(1 << 61), 1 << 61, 500)]))
    assert np.array_equal(nb.merged_positions(big, v), np.searchsorted(big, v))


def test_sort_keys_is_a_stable_argsort():
    """The radix sort gives numpy's stable argsort and the sorted keys (int64),
    with ties, for keys of one to four 16-bit digits and at the digits'
    edges, int32 and uint16 keys, one key, none, and negative keys."""
    rng = np.random.default_rng(11)
    for n in (0, 1, 2, 9, 4000):
        for bits in (1, 15, 16, 17, 32, 33, 48, 49, 63):
            for dtype in (np.int64, np.int32, np.uint16):
                if bits > np.iinfo(dtype).bits - (dtype != np.uint16):
                    continue
                k = rng.integers(0, 1 << bits, n, dtype=np.int64).astype(dtype)
                if n > 8:
                    k[: n // 3] = k[n // 2: n // 2 + n // 3]        # ties
                    k[-1] = (1 << bits) - 1
                order, keys = nb.sort_keys(k)
                want = np.argsort(k, kind="stable")
                assert np.array_equal(order, want) and keys.dtype == np.int64, (n, bits, dtype)
                assert np.array_equal(keys, k[want].astype(np.int64)), (n, bits, dtype)
    k = np.array([5, -3, 2, -3, 1 << 40])
    order, keys = nb.sort_keys(k)
    assert order.tolist() == [1, 3, 2, 0, 4] and keys.tolist() == sorted(k.tolist())


def test_bitmap_of_coarse_squares_marks_only_the_sides_a_point_is_near(monkeypatch):
    """Squares coarser than h: a point marks its own square and only the
    neighbours within h of it, and no position within h of a point is
    answered "no"."""
    monkeypatch.setattr(nb.Occupied, "MAX_CELLS", 1 << 12)
    rng = np.random.default_rng(6)
    q = rng.uniform(0, 1, (500, 2))
    h = 0.001
    occ = nb.Occupied(q[:, 0], q[:, 1], h)
    assert occ.h > 2 * h                               # coarsened
    assert occ.occ.sum() < 2 * len(q)                  # not nine squares a point
    ang = rng.uniform(0, 2 * np.pi, (len(q), 20))
    r = h * np.sqrt(rng.uniform(0, 1, (len(q), 20))) * (1 - 1e-9)
    px = (q[:, :1] + r * np.cos(ang)).ravel()
    py = (q[:, 1:] + r * np.sin(ang)).ravel()
    assert occ.maybe(px, py).all()
