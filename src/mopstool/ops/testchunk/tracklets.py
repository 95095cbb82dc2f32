"""Tracklets and their great-circle residuals (GCR), vectorized.

Input: the detections of one product (one processing of a test set) with
their sky position, exposure and exposure mid-time, grouped into fields (the
exposures of one quad). Within a field:

1. *Duplicates*: detections of one exposure closer than ``dedup_arcsec``
   (the same source measured on two overlapping skycells) count once: the
   close pairs of each exposure come from sorted square keys in a gnomonic
   plane about it (``exposure_pairs``: ``neighbours.self_pairs_sparse``) and
   the exact chord on unit vectors; the later row of a pair is dropped.
   ``compare`` finds them for both products in the search that matches
   them (``compare.exposure_searches``) and passes them in.
2. *Pairs*: for every two consecutive exposures i, j = i + 1 of the field (in
   time order) with 0 < t_j - t_i <= ``max_gap_hours``, every detection a of
   i and b of j with
   ``min_rate * dt <= |b - a| <= max_rate * dt`` (rates in deg/day, the angle
   along the sphere) is a pair consistent with one motion: a binned look-up
   in a plane about exposure i (``neighbours.pairs_within``: squares set by
   the reach max_rate * dt, both exposures sorted by square), decided by the
   plane distance where the projection's stretch cannot change the answer
   and by the exact chord where it could (the pairs a KD-tree range search
   would give, as in MOPS's findTracklets); the default max_rate, 0.5
   deg/day, is the untrailed limit of a PS1 exposure (docs/testchunk.md).
3. *Triples*: each pair (a, b) of exposures i, i + 1 predicts the position at
   the time t_k of the next exposure k = i + 2 by constant angular motion
   (a + (b - a)(t_k - t_i)/(t_j - t_i), renormalised on the sphere); the
   nearest detection of k within ``triple_tolerance_arcsec`` of the
   prediction makes a triple. In a gnomonic plane about exposure i the
   predictions are first tested against a bitmap of k's detections
   (``neighbours.Occupied``: a prediction in a square that no detection of k
   marked, its own or one it comes within the tolerance of, has none within
   the tolerance); the rest go to the
   sorted-key look-up (``neighbours.near_candidates``) and the exact chord on
   unit vectors, so the result is the same as testing every prediction
   against every detection (of equally near detections, the first in input
   order).
   Pairs only between consecutive visits keep the number of candidates
   (which grows with the square of the time between the visits) small; a
   quad's visits 1-2-3 and 2-3-4 make two triples sharing two detections,
   merged below into one tracklet of four.
4. *Tracklets*: detections joined by triples are merged (connected components
   of the graph whose edges are a-b and b-c of every triple, scipy
   ``csgraph``, on the linked detections only). A component of three or more detections that has at most one
   detection per exposure is a tracklet; one with two detections of one
   exposure is *ambiguous* and not used. Pairs with neither detection in a
   component are reported as pairs.
5. *GCR* of a tracklet: the detections are projected gnomonically about
   their mean direction (a great circle projects to a straight line), the
   orthogonal least-squares line is fitted, and the GCR is the root mean
   square of the perpendicular distances of the detections from that line,
   i.e. from the best-fitting great circle, in arcsec.

Only loops over fields and exposure pairs run in Python; every per-detection
step is a numpy or scipy array operation.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from mopstool.sky import ARCSEC, chord, unit_rows


@dataclass
class TrackletParams:
    min_rate_deg_per_day: float = 0.05
    max_rate_deg_per_day: float = 0.5
    triple_tolerance_arcsec: float = 1.0
    dedup_arcsec: float = 1.0
    max_gap_hours: float = 3.0
    #: tracklets shorter than this are counted but left out of the GCR distribution
    gcr_min_detections: int = 3

    @classmethod
    def from_config(cls, cfg) -> "TrackletParams":
        def f(key, default):
            return float(cfg.get(f"testchunk.{key}", default))
        return cls(min_rate_deg_per_day=f("min_rate_deg_per_day", 0.05),
                   max_rate_deg_per_day=f("max_rate_deg_per_day", 0.5),
                   triple_tolerance_arcsec=f("triple_tolerance_arcsec", 1.0),
                   dedup_arcsec=f("tracklet_dedup_arcsec", 1.0),
                   max_gap_hours=f("max_visit_gap_hours", 3.0),
                   gcr_min_detections=int(f("gcr_min_detections", 3)))

    def check(self) -> None:
        from mopstool.errors import ConfigError

        if not 0 <= self.min_rate_deg_per_day < self.max_rate_deg_per_day:
            raise ConfigError("[testchunk] needs 0 <= min_rate_deg_per_day < max_rate_deg_per_day")
        if self.gcr_min_detections < 3:
            raise ConfigError("[testchunk] gcr_min_detections must be >= 3")
        if self.triple_tolerance_arcsec <= 0 or self.max_gap_hours <= 0:
            raise ConfigError("[testchunk] triple_tolerance_arcsec and max_visit_gap_hours must be > 0")


@dataclass
class TrackletResult:
    #: detections that entered linking (after de-duplication)
    detections: int
    pairs: int
    tracklets: int
    ambiguous: int
    #: GCR (arcsec) per tracklet of at least gcr_min_detections detections
    gcr: Any
    #: number of detections per tracklet
    lengths: Any

    def summary(self) -> dict[str, Any]:
        import numpy as np

        g = np.asarray(self.gcr)
        return {"detections": int(self.detections), "pairs": int(self.pairs), "gcr_tracklets": int(g.size),
                "tracklets": int(self.tracklets), "ambiguous": int(self.ambiguous),
                "tracklets_by_length": {str(int(k)): int(v) for k, v in
                                        zip(*np.unique(np.asarray(self.lengths, dtype=int),
                                                       return_counts=True))},
                "gcr_median_arcsec": float(np.median(g)) if g.size else None,
                "gcr_p90_arcsec": float(np.percentile(g, 90)) if g.size else None}


def _spread_error(n: int):
    """The error for the *n* detections of one exposure too spread for one plane."""
    from mopstool.errors import DataError
    from mopstool.ops.testchunk import neighbours as nb

    return DataError(f"the detections of one exposure spread over more than "
                     f"{math.degrees(nb.MAX_PATCH_RAD):.0f} degrees ({n} detections)")


def _side(angle: float, cos_min: float, where) -> float:
    from mopstool.ops.testchunk import neighbours as nb

    try:
        return nb.cell_side(angle, cos_min)
    except ValueError:
        raise _spread_error(len(where)) from None


def _near(c0, cos_ref: float, angle: float):
    """None when every cosine *c0* (from a plane's centre) is within the
    plane's patch; else the indices of those at most *angle* further from the
    centre than a point whose cosine is *cos_ref*."""
    import numpy as np

    from mopstool.ops.testchunk import neighbours as nb

    if float(c0.min()) >= math.cos(nb.MAX_PATCH_RAD):
        return None
    lim = math.cos(min(math.pi, math.acos(max(-1.0, min(1.0, cos_ref))) + angle))
    return np.flatnonzero(c0 >= lim)


def exposure_pairs(sets, angle: float, chord_max: float):
    """Every unordered pair (i < j) of the detections of one exposure, given
    as one or more sets of unit vectors as three rows each (``unit_rows``;
    i and j number the sets' detections one after the other), whose chord is
    within *chord_max* (the angle *angle*), with its squared chord:
    (i, j, d^2). One sorted-key search in a gnomonic plane about all of them
    (``neighbours.self_pairs_sparse``), then the exact chord. Several sets at
    once: the duplicates of both products and the candidates for matching
    them from one search (``compare.exposure_searches``). ValueError when the
    detections spread too far for one plane."""
    import numpy as np

    from mopstool.ops.testchunk import neighbours as nb

    rows = sets[0] if len(sets) == 1 else np.concatenate(sets, axis=1) if sets else np.zeros((3, 0))
    if rows.shape[1] < 2:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty, np.zeros(0)
    c0, c1, c2 = nb.Plane(rows.sum(axis=1)).components_t(rows)
    h = nb.cell_side(angle, float(c0.min()))
    i, j = nb.self_pairs_sparse(c1 / c0, c2 / c0, h)
    return nb.within(rows.T, rows.T, i, j, chord_max, squared=True)


def _duplicates(rows, angle: float, chord_max: float):
    """Detections of one exposure (unit vectors as three rows, ``unit_rows``)
    with an earlier one within *chord_max* (the angle *angle*): the later
    detection of every such pair."""
    import numpy as np

    try:
        _, j, _ = exposure_pairs([rows], angle, chord_max)
    except ValueError:
        raise _spread_error(rows.shape[1]) from None
    return np.unique(j)


def gcr_arcsec(xyz, track):
    """RMS perpendicular distance (arcsec) from the best-fitting great circle of
    each tracklet; *track* numbers the tracklet of each row 0..T-1."""
    import numpy as np

    track = np.asarray(track)
    if track.size == 0:
        return np.zeros(0)
    T = int(track.max()) + 1
    n = np.bincount(track, minlength=T).astype("f8")
    m = np.zeros((T, 3))
    np.add.at(m, track, xyz)
    m /= np.linalg.norm(m, axis=1)[:, None]
    # tangent-plane basis about each tracklet's mean direction
    ref = np.where(np.abs(m[:, 2:3]) < 0.9, np.array([[0.0, 0.0, 1.0]]), np.array([[1.0, 0.0, 0.0]]))
    e1 = np.cross(ref, m)
    e1 /= np.linalg.norm(e1, axis=1)[:, None]
    e2 = np.cross(m, e1)
    p = xyz
    w = np.einsum("ij,ij->i", p, m[track])
    xi = np.einsum("ij,ij->i", p, e1[track]) / w
    eta = np.einsum("ij,ij->i", p, e2[track]) / w
    cx = np.bincount(track, xi, T) / n
    cy = np.bincount(track, eta, T) / n
    dx, dy = xi - cx[track], eta - cy[track]
    sxx = np.bincount(track, dx * dx, T)
    syy = np.bincount(track, dy * dy, T)
    sxy = np.bincount(track, dx * dy, T)
    # direction of the orthogonal least-squares line: principal axis of the scatter matrix
    theta = 0.5 * np.arctan2(2 * sxy, sxx - syy)
    perp = -dx * np.sin(theta[track]) + dy * np.cos(theta[track])
    rms = np.sqrt(np.bincount(track, perp * perp, T) / n)
    return rms / ARCSEC


def _groups(codes):
    """The rows of each distinct code, in row order, codes ascending: a list
    of slices when equal codes are contiguous and ascending, else of index arrays."""
    import numpy as np

    n = len(codes)
    if n == 0:
        return []
    if n == 1 or bool((codes[1:] >= codes[:-1]).all()):
        cut = np.flatnonzero(codes[1:] != codes[:-1]) + 1
        edges = [0] + cut.tolist() + [n]
        return [slice(lo, hi) for lo, hi in zip(edges[:-1], edges[1:])]
    order = np.argsort(codes, kind="stable")
    return np.split(order, np.flatnonzero(np.diff(codes[order])) + 1)


def _glob(g, local):
    """Global row numbers of rows *local* of a group (slice or index array)."""
    return local + g.start if isinstance(g, slice) else g[local]


def link(ra, dec, mjd, exposure, field, params: TrackletParams, *, xyz=None, xyz_rows=None,
         duplicates=None) -> TrackletResult:
    """Link the detections of one product into pairs and tracklets (see module doc).

    *exposure* and *field* are integer codes per detection; *mjd* the
    exposure mid-time (days) per detection; *xyz*, when given, the unit
    vectors of (ra, dec) (``unit_vectors``), or *xyz_rows* the same as three
    rows (``unit_rows``), not computed again. *duplicates*, when given: the
    rows that step 1 drops, found by the caller (``exposure_pairs``, as
    ``compare`` does for both products at once); step 1 is then skipped."""
    import numpy as np
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    from mopstool.ops.testchunk import neighbours as nb

    ra, dec, mjd = (np.asarray(a, dtype="f8") for a in (ra, dec, mjd))
    exposure, field = np.asarray(exposure, dtype="i8"), np.asarray(field, dtype="i8")
    ok = np.isfinite(ra) & np.isfinite(dec) & np.isfinite(mjd)
    if xyz_rows is not None:
        rows_all = np.asarray(xyz_rows, dtype="f8")
    elif xyz is not None:
        rows_all = np.ascontiguousarray(np.asarray(xyz, dtype="f8").T)
    else:
        rows_all = None
    base = None if ok.all() else np.flatnonzero(ok)

    def pick(x, idx):
        return x if idx is None else x.take(idx, axis=-1)

    if rows_all is None:
        X = unit_rows(pick(ra, base), pick(dec, base))
    else:
        X = pick(rows_all, base)
    exp_b, t_b, fld_b = pick(exposure, base), pick(mjd, base), pick(field, base)
    keep = None
    if duplicates is not None:
        dropped = np.zeros(len(ra), dtype=bool)
        dropped[np.asarray(duplicates, dtype=np.int64)] = True
        dropped = pick(dropped, base)
        if dropped.any():
            keep = np.flatnonzero(~dropped)
    elif params.dedup_arcsec > 0:
        r_dup = chord(params.dedup_arcsec * ARCSEC)
        drop = []
        for g in _groups(exp_b):
            rows = X[:, g]
            if rows.shape[1] > 1:
                dup = _duplicates(rows, params.dedup_arcsec * ARCSEC, r_dup)
                if len(dup):
                    drop.append(dup + g.start if isinstance(g, slice) else g[dup])
        if drop:
            keep_mask = np.ones(X.shape[1], dtype=bool)
            keep_mask[np.concatenate(drop)] = False
            keep = np.flatnonzero(keep_mask)
    X = pick(X, keep)
    exp, t, fld = pick(exp_b, keep), pick(t_b, keep), pick(fld_b, keep)
    n = X.shape[1]
    # per exposure: its kept detections (in input order)
    egroups = _groups(exp)
    kept_of = {int(exp[g][0] if not isinstance(g, slice) else exp[g.start]): g for g in egroups}
    # per field, its exposures in time order (of equal times, by code) with the
    # time of each one's first detection in the field
    if not egroups:
        fields = []
    else:
        firsts = np.array([g.start if isinstance(g, slice) else g[0] for g in egroups])
        one_field = all((fld[g] == fld[f]).all() for g, f in zip(egroups, firsts.tolist()))
        if one_field:
            fe = [(int(fld[f]), int(exp[f]), float(t[f])) for f in firsts.tolist()]
        else:
            _, first = np.unique(np.stack([fld, exp]), axis=1, return_index=True)
            fe = [(int(fld[f]), int(exp[f]), float(t[f])) for f in first.tolist()]
        by_field: dict[int, list] = {}
        for f, e, tm in sorted(fe, key=lambda x: (x[0], x[1])):
            by_field.setdefault(f, []).append((e, tm))
        fields = [sorted(v, key=lambda x: x[1]) for _, v in sorted(by_field.items())]
    pair_parts = []        # (global indices of exposure i, local a, of exposure j, local b)
    ea, eb = [], []
    tol = chord(params.triple_tolerance_arcsec * ARCSEC)
    tol_angle = 2.0 * math.asin(min(1.0, tol / 2.0))
    max_gap = params.max_gap_hours / 24.0
    for members in fields:
        exps = [e for e, _ in members]
        times = [tm for _, tm in members]
        groups = [kept_of[e] for e in exps]
        tcol = [X[:, g] for g in groups]
        sizes = [x.shape[1] for x in tcol]
        k = len(exps)
        for i in range(k - 1):
            j = i + 1
            dt = times[j] - times[i]
            if dt <= 0 or dt > max_gap or not sizes[i] or not sizes[j]:
                continue
            reach = math.radians(params.max_rate_deg_per_day * dt)
            rmin = chord(math.radians(params.min_rate_deg_per_day * dt))
            # one plane about exposure i for i, j and the next exposure
            plane = nb.Plane(tcol[i].sum(axis=1))
            ci, cj = plane.components_t(tcol[i]), plane.components_t(tcol[j])
            i0 = float(ci[0].min())
            # of j, only the detections within reach of i's patch can pair (j may lie elsewhere)
            sj = _near(cj[0], i0, reach)
            qj = cj if sj is None else tuple(x[sj] for x in cj)
            if not len(qj[0]):
                continue
            cos_min = min(i0, float(qj[0].min()))
            hr = _side(reach, cos_min, groups[i])
            a, b = nb.pairs_within(tcol[i], ci[1] / ci[0], ci[2] / ci[0],
                                   tcol[j] if sj is None else tcol[j].take(sj, axis=1),
                                   qj[1] / qj[0], qj[2] / qj[0], hr, cos_min, chord(reach), rmin)
            if sj is not None:
                b = sj[b]
            if len(a) == 0:
                continue
            pair_parts.append((groups[i], a, groups[j], b))
            nxt = j + 1
            if nxt >= k or not sizes[nxt] or times[nxt] - times[j] > max_gap:
                continue
            frac = (times[nxt] - times[i]) / dt
            # the prediction a + (b - a) frac along m, e1, e2 (linear, so from the
            # components of a and b), looked up among nxt's detections in the plane
            u = []
            for q in range(3):
                at_a = ci[q].take(a)
                step = cj[q].take(b)
                step -= at_a
                step *= frac
                step += at_a
                u.append(step)
            ck = plane.components_t(tcol[nxt])
            sk = None
            if float(ck[0].min()) < math.cos(nb.MAX_PATCH_RAD):
                # nxt reaches beyond the patch: only its detections near a prediction matter
                pc = u[0] / np.sqrt(u[0] * u[0] + u[1] * u[1] + u[2] * u[2])
                sk = _near(ck[0], float(pc.min()), tol_angle)
                if not len(sk):
                    continue
                ck = tuple(x[sk] for x in ck)
            # a prediction within the tolerance of a detection of nxt is at most
            # the tolerance further from the plane's centre than that detection
            k0 = min(1.0, float(ck[0].min()))
            h = _side(tol_angle, math.cos(min(math.pi, math.acos(k0) + tol_angle)), groups[nxt])
            kx, ky = ck[1] / ck[0], ck[2] / ck[0]
            px, py = u[1] / u[0], u[2] / u[0]
            del u
            # most predictions are nowhere near a detection of nxt: a bitmap skips them
            may = np.flatnonzero(nb.Occupied(kx, ky, h).maybe(px, py))
            p, c = nb.near_candidates(px.take(may), py.take(may), kx, ky, h)
            p = may[p]
            if len(p) == 0:
                continue
            if sk is not None:
                c = sk[c]
            # exact test on unit vectors, the nearest detection of nxt per prediction
            ap, bp = a[p], b[p]
            pred = [tcol[i][q].take(ap) for q in range(3)]
            for q in range(3):
                pred[q] += (tcol[j][q].take(bp) - pred[q]) * frac
            norm = np.sqrt(pred[0] * pred[0] + pred[1] * pred[1] + pred[2] * pred[2])
            d = np.zeros(len(p))
            for q in range(3):
                pred[q] /= norm
                pred[q] -= tcol[nxt][q].take(c)
                d += pred[q] * pred[q]
            d = np.sqrt(d)
            hit = d <= tol
            p, c, _ = nb.nearest(p[hit], c[hit], d[hit], len(a))
            if len(p):
                ga, gb = _glob(groups[i], a[p]), _glob(groups[j], b[p])
                ea.append(np.concatenate([ga, gb]))
                eb.append(np.concatenate([gb, _glob(groups[nxt], c)]))
    n_all_pairs = sum(len(p[1]) for p in pair_parts)
    if ea:
        u, v = np.concatenate(ea), np.concatenate(eb)
        # the graph of the linked detections only (numbered in input order:
        # components are labelled in the order of their first detection)
        nodes, inv = np.unique(np.concatenate([u, v]), return_inverse=True)
        m = len(nodes)
        g = coo_matrix((np.ones(len(u), dtype="i1"), (inv[:len(u)], inv[len(u):])), shape=(m, m))
        _, cmp = connected_components(g, directed=False)
        size = np.bincount(cmp)
        # distinct exposures per component
        e0 = int(exp[nodes].min())
        ne = int(exp[nodes].max()) - e0 + 1
        key = np.unique(cmp.astype(np.int64) * ne + (exp[nodes] - e0))
        nexp = np.bincount(key // ne, minlength=len(size))
        good = (size >= 3) & (nexp == size)
        amb = (size >= 3) & (nexp != size)
        in_track = good[cmp]
        members = nodes[in_track]
        _, track = np.unique(cmp[in_track], return_inverse=True)
        gcr = gcr_arcsec(np.ascontiguousarray(X.take(members, axis=1).T), track)
        lengths = np.bincount(track) if track.size else np.zeros(0, dtype=int)
        gcr = gcr[lengths >= params.gcr_min_detections]
        free = np.ones(n, dtype=bool)
        free[nodes[size[cmp] >= 3]] = False
        n_pairs = sum(int(np.count_nonzero(free[gi][a] & free[gj][b])) for gi, a, gj, b in pair_parts)
        return TrackletResult(detections=n, pairs=n_pairs, tracklets=int(good.sum()),
                              ambiguous=int(amb.sum()), gcr=gcr, lengths=lengths)
    return TrackletResult(detections=n, pairs=n_all_pairs, tracklets=0, ambiguous=0,
                          gcr=np.zeros(0), lengths=np.zeros(0, dtype=int))
