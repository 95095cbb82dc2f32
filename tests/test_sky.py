"""mopstool.sky: unit vectors from half-angle tangents agree with the C
library's cosines and sines to two units in the last place of 1, at every
angle including the poles, RA 0/90/180/270/360 and negative RA."""

from __future__ import annotations

import math

import numpy as np

from mopstool.sky import ARCSEC, chord, chord_arcsec, unit_rows, unit_vectors


def _libm(ra, dec):
    r, d = np.radians(ra), np.radians(dec)
    return np.stack([np.cos(d) * np.cos(r), np.cos(d) * np.sin(r), np.sin(d)])


def test_unit_rows_match_the_c_library():
    rng = np.random.default_rng(5)
    edges_ra = np.array([0.0, 90.0, 180.0, 270.0, 360.0, -90.0, -180.0, 1e-12, 179.999999999, 180.000000001, 720.5])
    edges_dec = np.array([-90.0, 90.0, 0.0, -1e-12, 45.0, 89.9999999, -89.9999999, 60.0, -30.0, 1.0, 10.0])
    ra = np.concatenate([rng.uniform(-360, 720, 200_000), edges_ra, np.repeat(edges_ra, len(edges_dec))])
    dec = np.concatenate([rng.uniform(-90, 90, 200_000), edges_dec, np.tile(edges_dec, len(edges_ra))])
    got, cd = unit_rows(ra, dec, with_cos_dec=True)
    want = _libm(ra, dec)
    assert got.shape == (3, len(ra)) and np.abs(got - want).max() <= 4.5e-16
    assert np.abs(cd - np.cos(np.radians(dec))).max() <= 4.5e-16
    assert np.abs(np.sqrt((got * got).sum(axis=0)) - 1.0).max() <= 1e-15
    # exact where the C library is: the equator at RA 0, z at the poles
    assert unit_rows(0.0, 0.0)[:, 0].tolist() == [1.0, 0.0, 0.0]
    assert unit_rows(123.0, 90.0)[2, 0] == 1.0 and unit_rows(123.0, -90.0)[2, 0] == -1.0


def test_unit_vectors_chords_and_scalars():
    v = unit_vectors([10.0, 20.0], [5.0, -5.0])
    assert v.shape == (2, 3) and np.array_equal(v, unit_rows([10.0, 20.0], [5.0, -5.0]).T)
    assert unit_vectors(10.0, 5.0).shape == (1, 3)
    a, b = unit_rows(10.0, 5.0)[:, 0], unit_rows(10.0, 5.0 + 1 / 3600)[:, 0]
    assert math.isclose(float(np.linalg.norm(a - b)), chord_arcsec(1.0), rel_tol=1e-9)
    assert chord(math.pi) == 2.0 and chord(4.0) == 2.0 and chord_arcsec(3600 * 60) == chord(60 * 3600 * ARCSEC)
