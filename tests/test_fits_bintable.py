"""fits.bintable: the lean binary-table reader gives what fitsio gives, and
refuses (None) what it does not handle, so that callers fall back to fitsio."""

from __future__ import annotations

import numpy as np
import pytest

from mopstool.fits.bintable import card_value, read_table


def _write(path, data, *, header=None, extname="T", primary_keys=None):
    import fitsio

    with fitsio.FITS(str(path), "rw", clobber=True) as f:
        f.write(None, header=primary_keys or {})
        f.write(data, extname=extname, header=header)


def test_columns_equal_fitsio_including_unsigned_and_vectors(tmp_path):
    import fitsio

    n = 257
    rng = np.random.default_rng(4)
    data = np.zeros(n, dtype=[("FLAGS", "u4"), ("N", "u2"), ("I8", "i8"), ("B", "u1"), ("RA", "f8"),
                              ("MAG", "f4"), ("V", "f4", (3,)), ("NAME", "S7"), ("J", "i4")])
    data["FLAGS"] = rng.integers(0, 2**32, n, dtype=np.uint64)
    data["FLAGS"][0] = 2**32 - 1
    data["N"] = rng.integers(0, 2**16, n)
    data["I8"] = rng.integers(-2**62, 2**62, n)
    data["B"] = rng.integers(0, 256, n)
    data["RA"] = rng.uniform(0, 360, n)
    data["MAG"] = rng.normal(size=n)
    data["MAG"][3] = np.nan
    data["V"] = rng.normal(size=(n, 3))
    data["NAME"] = [f"s{i}".encode() for i in range(n)]
    data["J"] = rng.integers(-2**31, 2**31, n)
    p = tmp_path / "t.fits"
    _write(p, data, primary_keys={"EXP_NAME": "o8309g0262o", "MJD-OBS": 58309.3})
    ref = fitsio.read(str(p), ext="T")
    t = read_table(str(p), "T", [c for c in data.dtype.names])
    assert t is not None and t.nrows == n and t.colnames == list(data.dtype.names)
    assert list(t.columns["NAME"].astype(str)) == list(ref["NAME"])    # A columns come as bytes
    for name in data.dtype.names:
        got, want = t.columns[name], ref[name]
        if name == "NAME":
            continue
        assert got.dtype.kind == want.dtype.kind and got.dtype.itemsize == want.dtype.itemsize, name
        assert np.array_equal(got, want, equal_nan=want.dtype.kind == "f"), name
    assert t.hdus[""].get("EXP_NAME") == "o8309g0262o" and t.hdus[""].get("MJD-OBS") == 58309.3
    # only the asked-for columns are converted; unknown names are left out
    t = read_table(str(p), "T", ["RA", "NOPE"])
    assert set(t.columns) == {"RA"}


def test_what_it_does_not_handle_is_refused(tmp_path):
    data = np.zeros(5, dtype=[("X", "f4")])
    p = tmp_path / "scaled.fits"
    _write(p, data, header=[{"name": "TSCAL1", "value": 2.0}, {"name": "TZERO1", "value": 1.0}])
    assert read_table(str(p), "T", ["X"]) is None           # a scaled column
    assert read_table(str(p), "OTHER", ["X"]) is None       # no such HDU
    q = tmp_path / "not.fits"
    q.write_bytes(b"hello" * 1000)
    assert read_table(str(q), "T", ["X"]) is None           # not FITS at all


def test_empty_table_and_truncated_file(tmp_path):
    p = tmp_path / "e.fits"
    _write(p, np.zeros(0, dtype=[("X", "f8")]))
    t = read_table(str(p), "T", ["X"])
    assert t is not None and t.nrows == 0 and t.columns == {}
    q = tmp_path / "cut.fits"
    _write(q, np.zeros(2000, dtype=[("X", "f8")]))
    q.write_bytes(q.read_bytes()[:-2880 * 3])
    with pytest.raises(ValueError, match="truncated"):
        read_table(str(q), "T", ["X"])


@pytest.mark.parametrize("text,value", [("'abc     '   / c", "abc"), ("'it''s'", "it's"), ("'a/b' / c", "a/b"),
                                        ("  42 / c", 42), ("T", True), (" 1.5D3", 1500.0), ("''", "")])
def test_card_values(text, value):
    assert card_value(text) == value


def test_keywords_found_in_the_text_as_parsed():
    """Hdu looks keywords up in the header text; the values are those of the
    full parse (first occurrence, plain or HIERARCH, nothing after END)."""
    from mopstool.fits.bintable import Hdu, find_card, header_cards

    cards = ["SIMPLE  =                    T", "NAXIS   =                    0",
             "HIERARCH FPA.OBS = 'o8309g0262o'", "EXPTIME =                 45.0 / s",
             "HIERARCH EXPTIME = 99", "COMMENT NAXIS1  = 7 not a value card", "NAXIS1  =                    3",
             "EXPTIME =                 12.0", "END", "AFTER   =                    1"]
    raw = "".join(c.ljust(80) for c in cards)
    raw += " " * (-len(raw) % 2880)
    full = header_cards(raw)
    text = raw[:80 * cards.index("END")]
    for key in ("SIMPLE", "NAXIS", "NAXIS1", "FPA.OBS", "EXPTIME", "AFTER", "COMMENT", "MISSING", "NAXIS2"):
        assert find_card(text, key) == full.get(key), key
    h = Hdu("", raw=raw)
    assert h.get("EXPTIME") == 45.0 and h.get("FPA.OBS") == "o8309g0262o" and h.get("AFTER") is None
    assert h.cards == full


def test_leading_cards_and_the_rest_read_as_the_full_parse():
    """The first cards of a header are read by place, the rest searched: every
    keyword's value is the full parse's (first occurrence, plain or
    HIERARCH), before and after the leading cards and across them."""
    from mopstool.fits.bintable import _LEADING, Hdu, header_cards

    lead = ["XTENSION= 'BINTABLE'", "BITPIX  =                    8", "NAXIS   =                    2",
            "NAXIS1  =                   16", "HIERARCH GAIN = 1.5", "NAXIS2  =                   10",
            "PCOUNT  =                    0", "GCOUNT  =                    1", "TFIELDS =                    2",
            "HISTORY NAXIS = 9 not a value card", "GAIN    =                  2.5"]
    tail = ["NAXIS2  =                   99", "EXTNAME = 'SkyChip.psf'", "HIERARCH FPA.OBS = 'o1'",
            "TFIELDS =                    7", "FPA.OBS = 'o2'"]
    filler = [f"K{i:<6d}=                  {i}" for i in range(_LEADING)]
    for cards in (lead + filler + tail, lead[:3] + tail, filler[:_LEADING - 1] + lead + tail):
        raw = "".join(c.ljust(80) for c in cards + ["END"])
        raw += " " * (-len(raw) % 2880)
        full = header_cards(raw)
        h = Hdu("T", raw=raw)
        for key in set(full) | {"MISSING", "HISTORY", "NAXIS3"}:
            assert h.raw_value(key) == full.get(key), (key, len(cards))


def test_columns_outlive_the_next_read(tmp_path):
    """Rows are read into one reused buffer; the columns returned are copies
    (bytes and characters too, which need no byte swap): reading another
    table leaves them as they were."""
    kind = [("X", "f8"), ("F", "u4"), ("B", "u1"), ("S", "S3")]
    one, two = np.zeros(300, dtype=kind), np.zeros(500, dtype=kind)
    one["X"], one["F"], one["B"], one["S"] = 1.5, 7, 9, b"abc"
    p, q = tmp_path / "p.fits", tmp_path / "q.fits"
    _write(p, one)
    _write(q, two)
    a = read_table(str(p), "T", ["X", "F", "B", "S"])
    b = read_table(str(q), "T", ["X", "F", "B", "S"])
    assert (a.columns["X"] == 1.5).all() and (a.columns["F"] == 7).all() and len(a.columns["X"]) == 300
    assert (a.columns["B"] == 9).all() and (a.columns["S"] == b"abc").all()
    assert (b.columns["X"] == 0).all() and (b.columns["B"] == 0).all() and len(b.columns["F"]) == 500
