"""Close pairs of sky positions by binning a gnomonic plane (numpy only).

Matching A against B, de-duplicating an exposure, linking visits and
looking up the predicted third position of a tracklet all ask one question:
which points of a set Q lie within an angle r of each point of a set P
(both within one small patch of sky, and optionally within the same group,
e.g. skycell). The answer here is exact and array-at-a-time:

1. both sets are projected gnomonically about one direction *m* (a patch
   of at most a few degrees; the projection stretches angles by at least 1
   and at most 1/cos^2 of the angle from *m*, so a plane square of side
   h = r / cos^2(theta_max) around a point holds every point within r);
2. for distances holding several points (the pairs of two visits,
   ``pairs_within``): the plane is cut into squares of side h/2 (or coarser
   ones up to 20h) with a table of where each square's points start in Q
   sorted by square, P sorted by square too; the 5 x 5 squares around a
   point of P are five contiguous ranges of Q, walked one position at a
   time for all points at once (no expansion into index arrays);
3. for small distances (few points within r: matching, duplicates, the
   triple look-up; ``sparse_candidates``): both sets are sorted by the key
   (group, row of height h, x quantised to h/64); a point's partners in the
   row below, its own and the row above are three contiguous runs of Q's
   keys, the start of each found for all points of a row offset at once by
   merging the two sorted key arrays (``merged_positions``);
4. the caller (or ``pairs_within`` itself) keeps the candidate pairs whose
   exact chord distance (unit vectors) is within r; ``pairs_within`` needs
   the chord only for pairs whose plane distance lies within the stretch
   factor of a limit, the plane distance settles the rest.

``candidates`` and ``close_pairs`` (the table of squares, or float keys
with ``searchsorted`` when it would be large) serve the general case and
the fall-backs.

Stable orders of integer keys come from a radix sort of 16-bit digits
(``sort_keys``), several times faster than a stable argsort. There is no
per-point Python code.
"""

from __future__ import annotations

import math

#: the patch a plane serves: points further than this from *m* are refused
MAX_PATCH_RAD = math.radians(20.0)


def basis(m):
    """(m, e1, e2): *m* normalised and two unit vectors spanning its tangent plane."""
    import numpy as np

    m = np.asarray(m, dtype="f8")
    m = m / np.linalg.norm(m)
    ref = np.array([0.0, 0.0, 1.0]) if abs(m[2]) < 0.9 else np.array([1.0, 0.0, 0.0])
    e1 = np.cross(ref, m)
    e1 /= np.linalg.norm(e1)
    return m, e1, np.cross(m, e1)


class Plane:
    """A gnomonic plane about direction *m* for points within ``MAX_PATCH_RAD`` of it."""

    def __init__(self, m):
        import numpy as np

        self.basis = np.stack(basis(m))

    def components(self, xyz):
        """Components of unit vectors (rows of *xyz*) along m, e1, e2 (a (3, n) array: three rows)."""
        return self.components_t(xyz.T)

    #: columns per (3, 3) @ (3, n) product: OpenBLAS runs larger ones
    #: (3 * 3 * n above 2^20) in threads, which spin on a second core after
    #: the product and add as much processor time again to what follows
    BLOCK = 65536

    def components_t(self, cols):
        """``components`` of unit vectors given as three rows x, y, z (a (3, n) array)."""
        # (3, 3) @ (3, n) products: several times faster than the nine array
        # products and sums (a (n, 3) @ (3, 3) product is the slow shape)
        n = cols.shape[1]
        if n <= self.BLOCK:
            return self.basis @ cols
        import numpy as np

        out = np.empty((3, n))
        for lo in range(0, n, self.BLOCK):
            out[:, lo:lo + self.BLOCK] = self.basis @ cols[:, lo:lo + self.BLOCK]
        return out


def cell_side(angle_rad: float, cos_min: float) -> float:
    """Plane distance that an angle can become for points whose cosine from
    the plane's centre is at least *cos_min* (with a small margin)."""
    if cos_min < math.cos(MAX_PATCH_RAD):
        raise ValueError("points spread too far for one gnomonic plane")
    return angle_rad / (cos_min * cos_min) * (1 + 1e-6) + 1e-15


def close_pairs(px, py, h: float, pg=None):
    """Each unordered pair of distinct points of P that ``candidates(px, py,
    None, None, h, pg)`` gives, once, as (i, j) with i < j."""
    import numpy as np

    g = _dense_grid(px, py, px, py, h, pg, pg) if len(px) else None
    if g is not None and g[0] == "own":
        return _candidates_dense(px, py, px, py, pg, pg, True, *g[1:], half=True)
    if g is not None:       # one table for all groups
        i, j = _candidates_dense(px, py, px, py, None, None, True, *g[1:], half=True)
        keep = np.asarray(pg)[i] == np.asarray(pg)[j]
        return i[keep], j[keep]
    i, j = candidates(px, py, None, None, h, pg)
    keep = i < j
    return i[keep], j[keep]


def _dense_grid(px, py, qx, qy, h: float, pg, qg):
    """The squares of ``candidates``'s table, when one fits: ("own", side, m,
    x0, y0, nx, ny) with the groups in the key, ("shared", ...) without them;
    else None."""
    np_, nq = len(px), len(qx)
    x_lo = min(float(px.min()), float(qx.min()))
    y_lo = min(float(py.min()), float(qy.min()))
    x_hi = max(float(px.max()), float(qx.max()))
    y_hi = max(float(py.max()), float(qy.max()))
    ngroups = 1 + max(int(pg.max()) if pg is not None else 0, int(qg.max()) if qg is not None else 0)
    # a table of every square when it is small: squares of side h/2 (the 5 x 5
    # around a point), else of side up to 20h (the 3 x 3 around it); when the
    # groups make it too large, one table for all groups and the pairs of
    # different groups dropped after
    limit = 4 * (np_ + nq) + 4096

    def grid(ng):
        def cells(side, m):
            return ((x_hi - x_lo) / side + 2 * m + 2) * ((y_hi - y_lo) / side + 2 * m + 2) * ng

        side, m = 0.5 * h, 2
        if cells(side, m) > limit:
            side, m = h, 1
            while cells(side, m) > limit and side <= 16 * h:
                side *= 1.25
        if cells(side, m) > limit:
            return None
        return (side, m, x_lo - m * side, y_lo - m * side,
                int((x_hi - x_lo) / side) + 2 * m + 1, int((y_hi - y_lo) / side) + 2 * m + 1)

    g = grid(ngroups)
    if g is not None:
        return ("own",) + g
    g = grid(1) if ngroups > 1 else None
    return None if g is None else ("shared",) + g


def _q_or_p(px, py, qx, qy, pg, qg):
    """(same, qx, qy, qg) of a pair search: ``qx is None`` means Q is P."""
    if qx is None:
        return True, px, py, pg
    return False, qx, qy, qg


def candidates(px, py, qx, qy, h: float, pg=None, qg=None):
    """Index pairs (i into P, j into Q) of point pairs in neighbouring plane
    squares (module doc) whose group codes (non-negative integers; None: one
    group) are equal. Every pair closer than *h* in the plane is among them.
    ``qx is None``: Q is P (each point is then paired with itself too)."""
    import numpy as np

    same, qx, qy, qg = _q_or_p(px, py, qx, qy, pg, qg)
    np_, nq = len(px), len(qx)
    empty = np.zeros(0, dtype=np.int64)
    if np_ == 0 or nq == 0:
        return empty, empty
    g = _dense_grid(px, py, qx, qy, h, pg, qg)
    if g is not None and g[0] == "own":
        return _candidates_dense(px, py, qx, qy, pg, qg, same, *g[1:])
    if g is not None:
        i, j = _candidates_dense(px, py, qx, qy, None, None, same, *g[1:])
        gp = np.zeros(np_, dtype=np.int64) if pg is None else np.asarray(pg)
        gq = np.zeros(nq, dtype=np.int64) if qg is None else np.asarray(qg)
        keep = gp[i] == gq[j]
        return i[keep], j[keep]
    x_lo = min(float(px.min()), float(qx.min()))
    y_lo = min(float(py.min()), float(qy.min()))
    x_hi = max(float(px.max()), float(qx.max()))
    y_hi = max(float(py.max()), float(qy.max()))
    ngroups = 1 + max(int(pg.max()) if pg is not None else 0, int(qg.max()) if qg is not None else 0)
    x0, y0 = x_lo - 2 * h, y_lo - h
    span_x, span_y = x_hi - x0 + 2 * h, y_hi - y0
    # a point's key: its row (group-major) times the row width plus its x, a
    # float; the x-range of a row never reaches the next row's. Keep the
    # rounding of the keys far below h: coarser rows only add candidates.
    while (span_y / h + 3) * ngroups * span_x * 2.0 ** -52 > 1e-3 * h:
        h *= 2.0
    s = h
    ny = int(span_y / s) + 3
    width = span_x + 2 * h
    eps = (ny * ngroups * width) * 2.0 ** -48

    def rows(y, g):
        r = np.floor((y - y0) / s)
        if g is not None:
            r += np.asarray(g, dtype="f8") * ny
        return r

    kq = rows(qy, qg)
    kq *= width
    kq += qx - x0
    oq = np.argsort(kq)
    kq = kq[oq]
    if same:
        kp, op = kq, oq
    else:
        kp = rows(py, pg)
        kp *= width
        kp += px - x0
        op = np.argsort(kp)
        kp = kp[op]
    los, cnts = [], []
    reach = h + eps
    for dr in (-1, 0, 1):
        c = kp + dr * width
        lo = np.searchsorted(kq, c - reach, side="left")
        hi = np.searchsorted(kq, c + reach, side="right")
        los.append(lo)
        cnts.append(hi - lo)
    lo = np.concatenate(los)
    cnt = np.concatenate(cnts)
    total = int(cnt.sum())
    if total == 0:
        return empty, empty
    owner = np.repeat(np.tile(np.arange(np_, dtype=np.int64), 3), cnt)
    start = np.repeat(lo - (np.cumsum(cnt) - cnt), cnt)
    pos = np.arange(total, dtype=np.int64)
    pos += start
    return op[owner], oq[pos]


def _candidates_dense(px, py, qx, qy, pg, qg, same, s, m, x0, y0, nx, ny, half=False):
    """``candidates`` on a grid small enough for a table of every square:
    squares of side *s* (with m * s >= h), the (2m + 1)^2 around a point's
    own, each row's a contiguous range of Q sorted by square."""
    import numpy as np

    ncell = nx * ny * (1 + (int(max(pg.max() if pg is not None else 0,
                                    qg.max() if qg is not None else 0))))
    # 32-bit keys and table when they fit: less memory to walk
    it = np.int32 if ncell + 2 * nx * m < 2 ** 31 and len(qx) < 2 ** 31 else np.int64

    def keys(x, y, g):
        k = np.floor((y - y0) / s).astype(it)
        if g is not None:
            k += np.asarray(g, dtype=it) * it(ny)
        k *= it(nx)
        k += np.floor((x - x0) / s).astype(it)
        return k

    kq = keys(qx, qy, qg)
    oq = stable_order(kq)
    first = np.zeros(ncell + 1, dtype=it)
    np.cumsum(np.bincount(kq, minlength=ncell), dtype=it, out=first[1:])
    kp = kq if same else keys(px, py, pg)
    if half:
        # own square (both orders and each point with itself: i < j kept), then
        # the squares after it in its row and the m rows after: each pair once
        i, j = _expand([first[kp]], [first[kp + it(1)]], oq)
        keep = i < j
        los, his = [first[kp + it(1)]], [first[kp + it(m + 1)]]
        for dr in range(1, m + 1):
            c = kp + it(dr * nx)
            los.append(first[c - it(m)])
            his.append(first[c + it(m + 1)])
        a, b = _expand(los, his, oq)
        return np.concatenate([i[keep], np.minimum(a, b)]), np.concatenate([j[keep], np.maximum(a, b)])
    los, his = [], []
    for dr in range(-m, m + 1):
        c = kp + it(dr * nx)
        los.append(first[c - it(m)])
        his.append(first[c + it(m + 1)])
    return _expand(los, his, oq)


def _expand(los, his, oq):
    """Candidate pairs from ranges [lo, hi) of sorted Q, one list entry per
    range kind, each with one range per point of P: (i into P, j into Q)."""
    import numpy as np

    npts = len(los[0])
    lo = np.concatenate(los).astype(np.int64)
    cnt = np.concatenate(his).astype(np.int64)
    cnt -= lo
    ends = np.cumsum(cnt)
    total = int(ends[-1]) if len(ends) else 0
    if total == 0:
        empty = np.zeros(0, dtype=np.int64)
        return empty, empty
    # one repeat (the range of each candidate); the rest are gathers
    seg = np.repeat(np.arange(len(cnt), dtype=np.int64), cnt)
    lo -= ends
    lo += cnt
    pos = lo.take(seg)
    pos += np.arange(total, dtype=np.int64)
    # ranges are kind-major: the point is the range less npts per kind before it
    for k in range(1, len(los)):
        seg[ends[k * npts - 1]:] -= npts
    return seg, oq.take(pos)


def sort_keys(k):
    """(order, sorted keys) of non-negative integer keys: ``numpy.argsort(k,
    kind="stable")`` and ``k[order]`` (int64), by a least-significant-digit
    radix sort: one stable argsort of 16-bit digits per pass (numpy's radix
    sort, linear in the keys), one pass per 16 bits of the largest key, each
    pass on its digit of the keys in the order so far. For the 27,000 to
    75,000 keys of 20-36 bits of a compare, 1.7-3.5 times faster than one
    sort of key * 2^b + index (numpy without a vectorised sort of 64-bit
    keys) and than a stable argsort."""
    import numpy as np

    k = np.asarray(k)
    n = len(k)
    if n == 0:
        return np.zeros(0, dtype=np.intp), k.astype(np.int64)
    if int(k.min()) < 0:
        o = np.argsort(k, kind="stable")
        return o, k.astype(np.int64).take(o)
    top = int(k.max()).bit_length()
    order, cur = None, k
    for shift in range(0, max(top, 1), 16):
        last = shift + 16 >= top
        d = cur >> shift if shift else cur
        if not last:
            d = d & 0xFFFF
        step = np.argsort(d.astype(np.uint16), kind="stable")
        order = step if order is None else order.take(step)
        if not last:
            cur = k.take(order)
    return order, k.astype(np.int64, copy=False).take(order)


def merged_positions(a, v):
    """``numpy.searchsorted(a, v, side="left")`` of sorted int64 keys *v* in
    sorted int64 keys *a* (both within +-2^62), by one stable sort of the two
    runs (a merge: faster than a binary search per key): key * 2 + 1 for
    *a*, key * 2 for *v*, so that a key of *v* comes before equal keys of *a*;
    the i-th key of *v* then has as many keys of *a* before it as its place
    less i."""
    import numpy as np

    na, nv = len(a), len(v)
    c = np.empty(na + nv, dtype=np.int64)
    np.left_shift(a, 1, out=c[:na])
    c[:na] |= 1
    np.left_shift(v, 1, out=c[na:])
    c.sort(kind="stable")
    c &= 1
    w = np.flatnonzero(c == 0)
    w -= np.arange(nv, dtype=np.int64)
    return w


def stable_order(k):
    """``numpy.argsort(k, kind="stable")`` of non-negative integer keys (``sort_keys``)."""
    return sort_keys(k)[0]


def pairs_within(p_xyz, px, py, q_xyz, qx, qy, h: float, cos_min: float, chord_max: float,
                 chord_min: float = 0.0):
    """Every pair (i of P, j of Q) whose chord distance is within [chord_min,
    chord_max], as (i, j): the pairs ``within`` keeps of the ``candidates`` of
    the plane positions (px, py), (qx, qy) for distance *h*. *p_xyz*,
    *q_xyz*: the unit vectors as (3, n) arrays; *cos_min*: the least cosine
    of any of them from the plane's centre.

    Both sets are sorted by square (the table's look-ups and the gathers then
    walk memory in order). A gnomonic plane stretches every distance by a
    factor between 1 and 1/cos_min^2 (module doc), so the plane distance
    alone decides all but the pairs within that factor (and a rounding
    margin) of a limit; those get the exact chord."""
    import numpy as np

    empty = np.zeros(0, dtype=np.int64)
    if len(px) == 0 or len(qx) == 0:
        return empty, empty
    g = _dense_grid(px, py, qx, qy, h, None, None)
    if g is None:
        i, j = candidates(px, py, qx, qy, h)
        i, j, _ = within(p_xyz.T, q_xyz.T, i, j, chord_max, chord_min)
        return i, j
    _, s, m, x0, y0, nx, ny = g

    def keys(x, y):
        k = np.floor((y - y0) / s).astype(np.int64)
        k *= nx
        k += np.floor((x - x0) / s).astype(np.int64)
        return k

    kq = keys(qx, qy)
    op, kp = sort_keys(keys(px, py))
    oq = stable_order(kq)
    ncell = nx * ny
    # 32-bit positions when they fit: half the memory the walk's look-ups touch
    first = np.zeros(ncell + 1, dtype=np.int32 if len(qx) < 2 ** 31 else np.int64)
    np.cumsum(np.bincount(kq, minlength=ncell), out=first[1:])
    psx, psy, qsx, qsy = px.take(op), py.take(op), qx.take(oq), qy.take(oq)
    # squared plane distances that settle a pair (margins far above rounding):
    # chord <= angle <= plane distance <= angle / cos_min^2, and chord >=
    # angle (1 - angle^2 / 24) for the angles of the candidates (<= 4 h)
    eps = 1e-8
    shrink = cos_min * cos_min * (1.0 - (4 * h) ** 2 / 24 - eps)
    a_max = 2.0 * math.asin(min(1.0, chord_max / 2.0))
    in_max = (chord_max * (1 - eps)) ** 2                  # below: chord <= chord_max
    out_max = (a_max / (cos_min * cos_min) * (1 + eps)) ** 2   # above: chord > chord_max
    out_min = (chord_min * (1 - eps)) ** 2 if chord_min > 0 else -1.0   # below: chord < chord_min
    in_min = (chord_min / shrink * (1 + eps)) ** 2 if chord_min > 0 else -1.0   # above: chord >= chord_min
    out_i, out_j, out_d = [], [], []
    # the t-th point of every range at once, t = 0, 1, ...: no expansion of
    # the ranges into candidate arrays; only the test against the outer limit
    # in the walk, the candidates it keeps sorted out after
    for dr in range(-m, m + 1):
        c = kp + (dr * nx - m)
        pos = first.take(c)
        c += 2 * m + 1
        end = first.take(c)
        act = np.flatnonzero(end > pos)
        pos, end = pos.take(act), end.take(act)
        while len(act):
            d2 = psx.take(act)
            d2 -= qsx.take(pos)
            d2 *= d2
            dy = psy.take(act)
            dy -= qsy.take(pos)
            dy *= dy
            d2 += dy
            k = np.flatnonzero(d2 <= out_max)
            out_i.append(act.take(k))
            out_j.append(pos.take(k))
            out_d.append(d2.take(k))
            pos += 1
            more = np.flatnonzero(pos < end)
            if len(more) < len(act):
                act, pos, end = act.take(more), pos.take(more), end.take(more)
    if not out_i:
        return empty, empty
    i, j, d2 = np.concatenate(out_i), np.concatenate(out_j), np.concatenate(out_d)
    sure = d2 <= in_max
    if in_min >= 0:
        sure &= d2 >= in_min
    unsure = ~sure
    if out_min >= 0:
        unsure &= d2 >= out_min
    k = np.flatnonzero(sure)
    si, sj = op.take(i.take(k)), oq.take(j.take(k))
    k = np.flatnonzero(unsure)
    if len(k) == 0:
        return si, sj
    ui, uj, _ = within(p_xyz.T, q_xyz.T, op.take(i.take(k)), oq.take(j.take(k)), chord_max, chord_min)
    return np.concatenate([si, ui]), np.concatenate([sj, uj])


def sparse_candidates(px, py, qx, qy, h: float, pg=None, qg=None, *, half: bool = False):
    """Index pairs (i into P, j into Q) of the same group (codes as for
    ``candidates``) with rows of height *h* at most one apart and x at most
    about *h* apart: every pair closer than *h* in the plane is among them.
    For small distances (few points within *h* of a point): both sets sorted
    by (group, row, x quantised to h/64), the partners of a point in a row are
    one contiguous run of Q's sorted keys, its start found by one merge of
    the sorted keys (``merged_positions``) and walked point by point.
    ``qx is None``: Q is P, and with *half* each unordered pair of distinct
    points comes once (as i < j). None when the keys would not fit in 62
    bits (the caller uses ``candidates``)."""
    import numpy as np

    same, qx, qy, qg = _q_or_p(px, py, qx, qy, pg, qg)
    np_, nq = len(px), len(qx)
    empty = np.zeros(0, dtype=np.int64)
    if np_ == 0 or nq == 0:
        return empty, empty
    x0 = min(float(px.min()), float(qx.min())) - h
    y0 = min(float(py.min()), float(qy.min())) - h
    x1 = max(float(px.max()), float(qx.max()))
    y1 = max(float(py.max()), float(qy.max()))
    ngroups = 1 + max(int(pg.max()) if pg is not None else 0, int(qg.max()) if qg is not None else 0)
    nr = int((y1 - y0) / h) + 3
    bits = max(1, (max(np_, nq) - 1).bit_length())
    for fine in (64, 16, 4, 1):
        qstep = h / fine
        hq = fine + 2
        nxq = int((x1 - x0) / qstep) + 2 * hq + 3
        if float(ngroups) * nr * nxq < 2.0 ** (61 - bits):
            break
    else:
        return None

    def keys(x, y, g):
        k = ((y - y0) / h).astype(np.int64)
        if g is not None:
            k += np.asarray(g, dtype=np.int64) * nr
        k *= nxq
        k += ((x - x0) / qstep).astype(np.int64) + hq
        return k

    oq, kq = sort_keys(keys(qx, qy, qg))
    op, kp = (oq, kq) if same else sort_keys(keys(px, py, pg))
    # Q's keys and one past the end that no key reaches: a walk stops there
    ends = np.empty(nq + 1, dtype=np.int64)
    ends[:nq] = kq
    ends[nq] = np.iinfo(np.int64).max
    out_i, out_j = [], []
    for dr in ((0, 1) if half else (-1, 0, 1)):
        top = kp + (dr * nxq + hq)
        if half and dr == 0:
            pos = np.arange(1, np_ + 1, dtype=np.int64)      # the points after each one
        else:
            pos = merged_positions(kq, kp + (dr * nxq - hq))
        act = None          # every point of P
        while True:
            k = np.flatnonzero(ends.take(pos) <= (top if act is None else top.take(act)))
            if len(k) == 0:
                break
            act, pos = (k if act is None else act.take(k)), pos.take(k)
            out_i.append(act)
            out_j.append(pos)
            pos = pos + 1
    if not out_i:
        return empty, empty
    i, j = op.take(np.concatenate(out_i)), oq.take(np.concatenate(out_j))
    if half:
        return np.minimum(i, j), np.maximum(i, j)
    return i, j


def near_candidates(px, py, qx, qy, h: float, pg=None, qg=None):
    """``sparse_candidates``, or ``candidates`` when its keys do not fit."""
    r = sparse_candidates(px, py, qx, qy, h, pg, qg)
    return candidates(px, py, qx, qy, h, pg, qg) if r is None else r


def self_pairs_sparse(px, py, h: float):
    """Each unordered pair (i < j) of distinct points that ``sparse_candidates``
    gives (every pair closer than *h* among them), or of ``close_pairs`` when
    the keys do not fit."""
    r = sparse_candidates(px, py, None, None, h, half=True)
    return close_pairs(px, py, h) if r is None else r


class Occupied:
    """Which plane positions may have a point of Q within *h*: a bitmap of
    squares of side at least *h*, each point of Q marking its own square and
    those of the eight around it that come within *h* of it (all eight when
    the squares are of side *h*). A position in an unmarked square has no
    point of Q within *h*; one in a marked square may have one (the caller
    checks)."""

    MAX_CELLS = 1 << 24

    def __init__(self, qx, qy, h: float):
        import numpy as np

        self.empty = len(qx) == 0
        if self.empty:
            return
        span_x, span_y = float(qx.max() - qx.min()), float(qy.max() - qy.min())
        reach = h
        if (span_x + 4 * h) * (span_y + 4 * h) / (h * h) > self.MAX_CELLS:
            # coarser squares: more positions answered "maybe", none missed
            while (span_x + 4 * h) * (span_y + 4 * h) / (h * h) > self.MAX_CELLS:
                h *= 1.5
        x0, y0 = float(qx.min()) - 2 * h, float(qy.min()) - 2 * h
        w, d = span_x + 4 * h, span_y + 4 * h
        self.h, self.x0, self.y0 = h, x0, y0
        self.nx, self.ny = int(w / h) + 2, int(d / h) + 2
        fx, fy = (qx - x0) / h, (qy - y0) / h
        ix, iy = np.floor(fx), np.floor(fy)
        fx -= ix            # the place of each point in its square, [0, 1)
        fy -= iy
        ny = self.ny
        k = ix.astype(np.int64)
        k *= ny
        k += iy.astype(np.int64)
        occ = np.zeros(self.nx * ny, dtype=bool)
        # the neighbouring squares only on the sides the point lies within
        # *reach* of (squares coarser than *reach*: fewer squares marked, fewer
        # positions answered "maybe"); the margin covers the rounding of fx, fy
        f = reach / h * (1 + 1e-9) + 1e-9
        if f < 0.5:
            # at most one side per axis: -1, 0 or +1 square in x and in y
            dx = (fx > 1 - f).view(np.int8) - (fx < f).view(np.int8)
            dy = (fy > 1 - f).view(np.int8) - (fy < f).view(np.int8)
            kx = dx.astype(np.int64)
            kx *= ny
            kx += k
            occ[k] = True
            occ[kx] = True
            kx += dy
            occ[kx] = True
            k += dy
            occ[k] = True
        else:
            for dk in (-ny - 1, -ny, -ny + 1, -1, 0, 1, ny - 1, ny, ny + 1):
                occ[k + dk] = True
        self.occ = occ

    def maybe(self, px, py):
        import numpy as np

        if self.empty:
            return np.zeros(len(px), dtype=bool)
        # squares 0 and n-1 of each axis are never marked, so clipping keeps the answer
        fx = np.clip((px - self.x0) / self.h, 0, self.nx - 1).astype(np.int64)
        fy = np.clip((py - self.y0) / self.h, 0, self.ny - 1).astype(np.int64)
        fx *= self.ny
        fx += fy
        return self.occ[fx]


def within(xyz_p, xyz_q, i, j, chord_max: float, chord_min: float = 0.0, *, squared: bool = False):
    """The candidate pairs (i, j) whose chord distance is within [chord_min,
    chord_max]: (i, j, d), or with *squared* (i, j, d^2) (the test is on d^2)."""
    import numpy as np

    # the coordinate rows as they are (views, no copies: gathers need no contiguity)
    pt, qt = np.asarray(xyz_p).T, np.asarray(xyz_q).T
    d2 = None
    for axis in range(3):
        diff = pt[axis].take(i)
        diff -= qt[axis].take(j)
        diff *= diff
        if d2 is None:
            d2 = diff
        else:
            d2 += diff
    if d2 is None:
        d2 = np.zeros(0)
    ok = d2 <= chord_max * chord_max
    if chord_min > 0:
        ok &= d2 >= chord_min * chord_min
    k = np.flatnonzero(ok)
    d = d2.take(k)
    if not squared:
        np.sqrt(d, out=d)
    return i.take(k), j.take(k), d


def nearest(i, j, d, n: int):
    """Of candidate pairs (i, j, d) with i < n, the nearest j for each i:
    (i, j, d) with unique i, ascending (of equally near ones, the smallest j)."""
    import numpy as np

    if len(i) == 0:
        return i, j, d
    dmin = np.full(n, np.inf)
    np.minimum.at(dmin, i, d)
    sel = np.flatnonzero(d == dmin.take(i))
    top = np.iinfo(np.int64).max
    jmin = np.full(n, top, dtype=np.int64)
    np.minimum.at(jmin, i.take(sel), j.take(sel))
    out = np.flatnonzero(jmin != top)
    return out, jmin.take(out), dmin.take(out)
