"""The rawExp selector columns of chiptool -definebyquery (pxchipGetSearchArgs).

Plain names only: the CLI builds its options from them without importing the
database layer.
"""

#: rawExp columns with a --COL-min (>=) / --COL-max (<) selector, as chiptool's
#: -COL_min/-COL_max (ra and decl given in degrees on the command line)
RAWEXP_RANGE_COLUMNS = ("airmass", "ra", "decl", "exp_time", "sat_pixel_frac", "bg", "bg_stdev",
                        "bg_mean_stdev", "alt", "az", "ccd_temp", "posang", "sun_angle")
#: rawExp string columns with an '=' selector (chiptool -inst, -telescope, -exp_tag,
#: -filelevel, -data_state)
RAWEXP_EQ_COLUMNS = ("camera", "telescope", "exp_tag", "filelevel", "state")
