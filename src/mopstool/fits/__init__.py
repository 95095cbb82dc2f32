"""FITS input/output: diff CMF catalogs (cmf) and the .mops catalog (mops).

numpy, fitsio, scipy and astropy are imported inside the functions that use them.
"""
