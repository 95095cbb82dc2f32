"""MOPS test chunks: named comparison sets, reprocessing them under a new
label, and comparing the diff products of two processings."""
