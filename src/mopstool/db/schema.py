"""SQLAlchemy Core models of the gpc1 image database and the pstamp database.

Table and column names, types, nullability, keys and indexes follow the IPP
schema (ippTools/share/pxadmin_create_tables.sql): camelCase table names,
latin1 InnoDB tables, nullable columns where the IPP has them. Only the
tables mopstool reads or writes are modelled; a real gpc1 has many more and
mopstool ignores them (and any extra columns).

Columns are written in a compact notation, one per line::

    name TYPE [NN] [AI] [d=DEFAULT]

TYPE is BIGINT, INT, SMALLINT, TINYINT, FLOAT, DOUBLE, DATETIME, TIMESTAMP or
V<n> (VARCHAR(n)); NN is NOT NULL, AI AUTO_INCREMENT, d=now a CURRENT_TIMESTAMP
default.

The declarations are read at import; each table's model is built on first
use (``schema.chipRun``, :func:`table`), so that a report builds only the
tables it touches. ``schema.gpc1``, ``schema.pstamp`` and ``schema.optional``
give the metadata with all of its tables built (``create_all``,
``sorted_tables``, ``db check``).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Double,
    Float,
    ForeignKeyConstraint,
    Index,
    Integer,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    UniqueConstraint,
    event,
    func,
    text,
)
from sqlalchemy.types import TIMESTAMP

_gpc1 = MetaData()
_pstamp = MetaData()
#: IPP tables mopstool reads when a database has them but never creates (db init leaves them out)
_optional = MetaData()
#: what ``schema.gpc1``, ``schema.pstamp`` and ``schema.optional`` give: the metadata, every table built
_PUBLIC_MD = {"gpc1": _gpc1, "pstamp": _pstamp, "optional": _optional}

_MYSQL_KW = {"mysql_engine": "InnoDB", "mysql_charset": "latin1", "mariadb_engine": "InnoDB",
             "mariadb_charset": "latin1"}

#: columns that the IPP declares AUTO_INCREMENT without being the whole primary key.
#: SQLite cannot auto-increment them, so inserts there compute the next value
#: (see mopstool.db.dialect.next_id); on MySQL, db init adds AUTO_INCREMENT after create.
EXTRA_AUTO_INCREMENT: dict[str, str] = {}


class TINYINT(Integer):
    """MySQL's TINYINT, the type of the IPP's flag columns. MySQL/MariaDB
    compile it as ``TINYINT`` (what ``sqlalchemy.dialects.mysql.TINYINT()``
    gives) without importing the MySQL dialect into a process that talks to
    SQLite."""

    __visit_name__ = "TINYINT"


def _type(token: str):
    """The column type of a DDL token, one instance per token (type objects
    hold no per-column state, and building each column its own costs more
    than the column)."""
    typ = _TYPES.get(token)
    if typ is None:
        typ = _TYPES[token] = _new_type(token)
    return typ


_TYPES: dict[str, Any] = {}
#: server defaults, one clause per default value
_DEFAULTS: dict[str, Any] = {}


def _new_type(token: str):
    t = token.upper()
    if t == "AI_PK":
        return BigInteger().with_variant(Integer(), "sqlite")
    if t == "BIGINT":
        return BigInteger()
    if t == "INT":
        return Integer()
    if t == "SMALLINT":
        return SmallInteger()
    if t == "TINYINT":
        return SmallInteger().with_variant(TINYINT(), "mysql", "mariadb")
    if t == "FLOAT":
        return Float()
    if t == "DOUBLE":
        return Double()
    if t == "DATETIME":
        return DateTime()
    if t == "TIMESTAMP":
        return DateTime().with_variant(TIMESTAMP(), "mysql", "mariadb")
    if t.startswith("V"):
        return String(int(t[1:]))
    raise ValueError(f"unknown column type {token!r}")


#: (metadata, table name) -> how to build it, in the order of declaration. The
#: models are built on first use (a module attribute, :func:`table`, or any of
#: the metadata objects, which build them all): a report that touches three
#: tables builds three.
_SPECS: dict[tuple[MetaData, str], tuple] = {}
_READY = False  # the module's own declarations are done
#: the metadata objects whose declared tables are all built
_COMPLETE: set[int] = set()


def _table(metadata: MetaData, name: str, columns: str, pk: tuple[str, ...], **kw) -> Table | None:
    """Declare one IPP table (see :func:`_build_table`): built on first use when
    declared here, at once (and returned) when declared later (a test's stage)."""
    for line in columns.strip().splitlines():
        parts = line.split("#", 1)[0].split()
        if parts and "AI" in parts[2:] and not (len(pk) == 1 and pk[0] == parts[0]):
            EXTRA_AUTO_INCREMENT[name] = parts[0]
    if _READY:
        return _build_table(metadata, name, columns, pk, **kw)
    _SPECS[(metadata, name)] = (columns, pk, kw)
    return None


def _build_table(metadata: MetaData, name: str, columns: str, pk: tuple[str, ...],
                 keys: tuple = (), unique: tuple = (), fks: tuple = (), mysql_fks: tuple = (),
                 sqlite_unique: tuple = ()) -> Table:
    """One IPP table. *fks* are the DDL's foreign keys; *mysql_fks* those whose
    parent columns are not unique (InnoDB accepts that, SQLite cannot enforce
    it: they exist on MySQL only); *sqlite_unique* keys that are unique anyway
    (they start with the primary key) and are declared UNIQUE on SQLite so a
    foreign key may reference them there, plain KEYs on MySQL as in the DDL."""
    cols = []
    single_pk = len(pk) == 1
    for line in columns.strip().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        cname, ctype, mods = parts[0], parts[1], parts[2:]
        typ = _type(ctype)
        kw: dict = {}
        is_ai = "AI" in mods
        if is_ai and single_pk and pk[0] == cname:
            # SQLite only auto-increments an INTEGER PRIMARY KEY (rowid alias)
            typ = _type("AI_PK")
            kw["autoincrement"] = True
        else:
            kw["autoincrement"] = False
        kw["nullable"] = not ("NN" in mods or cname in pk)
        for m in mods:
            if m.startswith("d="):
                val = m[2:]
                if val == "now":
                    kw["server_default"] = func.current_timestamp()
                else:
                    kw["server_default"] = _DEFAULTS.get(val)
                    if kw["server_default"] is None:
                        kw["server_default"] = _DEFAULTS[val] = text(val)
        cols.append(Column(cname, typ, **kw))
    args: list = [PrimaryKeyConstraint(*pk)]
    for k in keys:
        k = (k,) if isinstance(k, str) else k
        ix = Index(f"ix_{name}_{'_'.join(k)}", *k)
        if k in sqlite_unique:
            ix = ix.ddl_if(dialect=("mysql", "mariadb"))
            args.append(Index(f"uq_{name}_{'_'.join(k)}", *k, unique=True).ddl_if(dialect="sqlite"))
        args.append(ix)
    for u in unique:
        u = (u,) if isinstance(u, str) else u
        args.append(UniqueConstraint(*u, name=f"uq_{name}_{'_'.join(u)}"))
    for local, remote in fks:
        local = (local,) if isinstance(local, str) else local
        rtable, rcols = remote.split("(")
        rcols = tuple(c.strip() for c in rcols.rstrip(")").split(","))
        args.append(ForeignKeyConstraint(list(local), [f"{rtable}.{c}" for c in rcols]))
    for local, remote in mysql_fks:
        local = (local,) if isinstance(local, str) else local
        rtable, rcols = remote.split("(")
        rcols = tuple(c.strip() for c in rcols.rstrip(")").split(","))
        args.append(ForeignKeyConstraint(list(local), [f"{rtable}.{c}" for c in rcols])
                    .ddl_if(dialect=("mysql", "mariadb")))
    return Table(name, metadata, *cols, *args, info={"mysql_kw": _MYSQL_KW})


# The observational columns shared by rawExp and rawImfile.
_OBS = """
airmass FLOAT
ra DOUBLE
decl DOUBLE
exp_time FLOAT
sat_pixel_frac FLOAT
bg DOUBLE
bg_stdev DOUBLE
bg_mean_stdev DOUBLE
alt DOUBLE
az DOUBLE
ccd_temp FLOAT
posang DOUBLE
m1_x FLOAT
m1_y FLOAT
m1_z FLOAT
m1_tip FLOAT
m1_tilt FLOAT
m2_x FLOAT
m2_y FLOAT
m2_z FLOAT
m2_tip FLOAT
m2_tilt FLOAT
env_temperature FLOAT
env_humidity FLOAT
env_wind_speed FLOAT
env_wind_dir FLOAT
teltemp_m1 FLOAT
teltemp_m1cell FLOAT
teltemp_m2 FLOAT
teltemp_spider FLOAT
teltemp_truss FLOAT
teltemp_extra FLOAT
pon_time FLOAT
user_1 DOUBLE
user_2 DOUBLE
user_3 DOUBLE
user_4 DOUBLE
user_5 DOUBLE
object V64
sun_angle FLOAT
sun_alt FLOAT
moon_angle FLOAT
moon_alt FLOAT
moon_phase FLOAT
"""

# Image-quality columns shared by chipProcessedImfile and camProcessedExp.
_IQ = """
fwhm_major FLOAT
fwhm_major_lq FLOAT
fwhm_major_uq FLOAT
fwhm_minor FLOAT
fwhm_minor_lq FLOAT
fwhm_minor_uq FLOAT
iq_fwhm_major FLOAT
iq_fwhm_major_err FLOAT
iq_fwhm_minor FLOAT
iq_fwhm_minor_err FLOAT
""" + "".join(
    f"iq_{m} FLOAT\niq_{m}_err FLOAT\niq_{m}_lq FLOAT\niq_{m}_uq FLOAT\n"
    for m in ("m2", "m2c", "m2s", "m3", "m4")
)

_MASKFRAC_F = """
maskfrac_npix FLOAT
maskfrac_static FLOAT
maskfrac_dynamic FLOAT
maskfrac_magic FLOAT
maskfrac_advisory FLOAT
"""
_MASKFRAC_I = _MASKFRAC_F.replace("maskfrac_npix FLOAT", "maskfrac_npix INT")

# ---------------------------------------------------------------- ingest
def _dbversion(metadata: MetaData) -> Table:
    return Table(
        "dbversion", metadata,
        Column("schema_version", String(64)),
        Column("updated", DateTime().with_variant(TIMESTAMP(), "mysql", "mariadb"),
               server_default=func.current_timestamp()),
        info={"mysql_kw": _MYSQL_KW},
    )


_SPECS[(_gpc1, "dbversion")] = _dbversion

_table(_gpc1, "newExp", """
exp_id BIGINT AI
summit_id BIGINT
tmp_exp_name V64
tmp_camera V64
tmp_telescope V64
state V64
workdir V255
workdir_state V64
reduction V64
dvodb V255
tess_id V64
end_stage V64
label V64
epoch TIMESTAMP d=now
""", pk=("exp_id",), keys=("summit_id", "tmp_exp_name", "tmp_camera", "tmp_telescope", "state",
                          "workdir_state", "end_stage", "label"))

_table(_gpc1, "newImfile", """
exp_id BIGINT
tmp_class_id V64
uri V255
epoch TIMESTAMP d=now
bytes INT
md5sum V32
""", pk=("exp_id", "tmp_class_id"), fks=(("exp_id", "newExp(exp_id)"),))

#: the summit's exposure list (filled by the summit copy); the summit gate of
#: desperate diffs compares it with rawExp when the table exists
_table(_optional, "summitExp", """
summit_id BIGINT NN AI
exp_name V64
camera V64
telescope V64
dateobs DATETIME
exp_type V64
uri V255
imfiles INT
fault SMALLINT NN
epoch TIMESTAMP d=now
""", pk=("summit_id",), keys=(("exp_name", "camera", "telescope"), "fault"))

_table(_gpc1, "rawExp", """
exp_id BIGINT
exp_name V64
camera V64
telescope V64
dateobs DATETIME
exp_tag V255
exp_type V64
filelevel V64
workdir V255
state V64
reduction V64
dvodb V255
tess_id V64
end_stage V64
filter V64
comment V80
obs_mode V64
obs_group V64
""" + _OBS + """
hostname V64
fault SMALLINT NN
epoch TIMESTAMP d=now
magicked BIGINT
""", pk=("exp_id",), keys=("end_stage", "fault", "state", "exp_name"),
    fks=(("exp_id", "newExp(exp_id)"),))

_table(_gpc1, "rawImfile", """
exp_id BIGINT
exp_name V64
camera V64
telescope V64
dateobs DATETIME
tmp_class_id V64
class_id V64
uri V255
data_state V64
exp_type V64
filelevel V64
filter V64
comment V80
obs_mode V64
obs_group V64
""" + _OBS + """
ignored TINYINT d=0
hostname V64
quality SMALLINT NN d=0
fault SMALLINT NN
epoch TIMESTAMP d=now
raw_image_id BIGINT AI
magicked BIGINT
bytes INT
md5sum V32
burntool_state SMALLINT
video_cells TINYINT d=0
""", pk=("exp_id", "class_id"), keys=("tmp_class_id", "fault", "raw_image_id", "quality", "dateobs"),
    unique=(("exp_id", "tmp_class_id"),),
    fks=((("exp_id", "tmp_class_id"), "newImfile(exp_id, tmp_class_id)"),))

# ---------------------------------------------------------------- chip
_table(_gpc1, "chipRun", """
chip_id BIGINT AI
exp_id BIGINT
state V64
workdir V255
workdir_state V64
label V64
data_group V64
dist_group V64
reduction V64
expgroup V64
dvodb V255
tess_id V64
end_stage V64
magicked BIGINT
software_ver V16
""" + _MASKFRAC_F + """
update_mode SMALLINT d=0
note V255
""", pk=("chip_id",), keys=("exp_id", "state", "workdir_state", "label", "data_group", "dist_group",
                            "expgroup", "end_stage", ("chip_id", "exp_id")),
    fks=(("exp_id", "rawExp(exp_id)"),), sqlite_unique=(("chip_id", "exp_id"),))

_table(_gpc1, "chipImfile", """
chip_id BIGINT
class_id V64
chip_imfile_id BIGINT AI
""", pk=("chip_id", "class_id"), keys=("chip_imfile_id",), fks=(("chip_id", "chipRun(chip_id)"),))

_table(_gpc1, "chipProcessedImfile", """
chip_id BIGINT
exp_id BIGINT
class_id V64
data_state V64
uri V255
bg FLOAT
bg_stdev FLOAT
bg_mean_stdev FLOAT
bias FLOAT
bias_stdev FLOAT
fringe_0 FLOAT
fringe_1 FLOAT
fringe_2 FLOAT
ap_resid FLOAT
ap_resid_stdev FLOAT
""" + _IQ + """
dtime_detrend FLOAT
dtime_photom FLOAT
dtime_total FLOAT
dtime_script FLOAT
hostname V64
n_stars INT
n_psfstars INT
n_iqstars INT
n_extended INT
n_cr INT
path_base V255
quality SMALLINT NN d=0
fault SMALLINT NN
magicked BIGINT
software_ver V16
""" + _MASKFRAC_I + """
deteff_magref FLOAT
""", pk=("chip_id", "exp_id", "class_id"), keys=("data_state", "fault", "quality"),
    fks=((("chip_id", "exp_id"), "chipRun(chip_id, exp_id)"),
         (("exp_id", "class_id"), "rawImfile(exp_id, class_id)")))

_table(_gpc1, "chipMask", "label V64", pk=("label",))

# ---------------------------------------------------------------- camera / fake
_table(_gpc1, "camRun", """
cam_id BIGINT AI
chip_id BIGINT
state V64
workdir V255
workdir_state V64
label V64
data_group V64
dist_group V64
reduction V64
expgroup V64
dvodb V255
tess_id V64
end_stage V64
magicked BIGINT
software_ver V16
maskfrac_ref_npix FLOAT
maskfrac_ref_static FLOAT
maskfrac_ref_dynamic FLOAT
maskfrac_ref_magic FLOAT
maskfrac_ref_advisory FLOAT
maskfrac_max_npix FLOAT
maskfrac_max_static FLOAT
maskfrac_max_dynamic FLOAT
maskfrac_max_magic FLOAT
maskfrac_max_advisory FLOAT
note V255
""", pk=("cam_id",), keys=("chip_id", "state", "workdir_state", "label", "data_group", "dist_group",
                           "expgroup", "end_stage", ("cam_id", "chip_id")),
    fks=(("chip_id", "chipRun(chip_id)"),))

_table(_gpc1, "camProcessedExp", """
cam_id BIGINT
uri V255
bg FLOAT
bg_stdev FLOAT
bg_mean_stdev FLOAT
bias FLOAT
bias_stdev FLOAT
fringe_0 FLOAT
fringe_1 FLOAT
fringe_2 FLOAT
sigma_ra FLOAT
sigma_dec FLOAT
ap_resid FLOAT
ap_resid_stdev FLOAT
zpt_obs FLOAT
zpt_stdev FLOAT
zpt_lq FLOAT
zpt_uq FLOAT
""" + _IQ + """
dtime_script FLOAT
dtime_astrom FLOAT
dtime_addstar FLOAT
hostname V64
n_stars INT
n_psfstars INT
n_iqstars INT
n_extended INT
n_cr INT
n_astrom INT
path_base V255
fault SMALLINT NN
software_ver V16
maskfrac_ref_npix INT
maskfrac_ref_static FLOAT
maskfrac_ref_dynamic FLOAT
maskfrac_ref_magic FLOAT
maskfrac_ref_advisory FLOAT
maskfrac_max_npix INT
maskfrac_max_static FLOAT
maskfrac_max_dynamic FLOAT
maskfrac_max_magic FLOAT
maskfrac_max_advisory FLOAT
deteff FLOAT
deteff_err FLOAT
deteff_lq FLOAT
deteff_uq FLOAT
quality SMALLINT NN d=0
background_model SMALLINT
astrom_chips BIGINT
ast_r0 FLOAT
ast_d0 FLOAT
ast_t0 FLOAT
ast_s0 FLOAT
ast_rs FLOAT
ast_ds FLOAT
""", pk=("cam_id",), keys=("fault", "quality"), fks=(("cam_id", "camRun(cam_id)"),))

_table(_gpc1, "camMask", "label V64", pk=("label",))

_table(_gpc1, "fakeRun", """
fake_id BIGINT AI
cam_id BIGINT
state V64
workdir V255
label V64
data_group V64
dist_group V64
reduction V64
expgroup V64
dvodb V255
tess_id V64
end_stage V64
epoch TIMESTAMP d=now
note V255
""", pk=("fake_id",), keys=("cam_id", "state", "label", "data_group", "dist_group", "expgroup",
                            "end_stage", ("fake_id", "cam_id")),
    fks=(("cam_id", "camRun(cam_id)"),))

_table(_gpc1, "fakeProcessedImfile", """
fake_id BIGINT AI
exp_id BIGINT
class_id V64
uri V255
dtime_fake FLOAT
dtime_script FLOAT
hostname V64
path_base V255
data_state V64
fault SMALLINT NN
epoch TIMESTAMP d=now
""", pk=("fake_id", "exp_id", "class_id"), keys=("fault",),
    fks=(("fake_id", "fakeRun(fake_id)"), (("exp_id", "class_id"), "rawImfile(exp_id, class_id)")))

_table(_gpc1, "fakeMask", "label V64", pk=("label",))

# ---------------------------------------------------------------- warp
_table(_gpc1, "warpRun", """
warp_id BIGINT AI
fake_id BIGINT
mode V64
state V64
workdir V255
workdir_state V64
label V64
data_group V64
dist_group V64
dvodb V255
tess_id V64
reduction V64
end_stage V64
registered DATETIME
magicked BIGINT
software_ver V16
""" + _MASKFRAC_F + """
note V255
""", pk=("warp_id",), keys=("fake_id", "mode", "state", "workdir_state", "label", "data_group",
                            "dist_group", "end_stage", ("warp_id", "fake_id")),
    fks=(("fake_id", "fakeRun(fake_id)"),))

_table(_gpc1, "warpSkyCellMap", """
warp_id BIGINT
skycell_id V64
tess_id V64
class_id V64
fault SMALLINT
""", pk=("warp_id", "skycell_id", "tess_id", "class_id"), keys=("fault",),
    fks=(("warp_id", "warpRun(warp_id)"),))

_table(_gpc1, "warpImfile", """
warp_id BIGINT
skycell_id V64
warp_skyfile_id BIGINT AI
""", pk=("warp_id", "skycell_id"), keys=("warp_skyfile_id",), fks=(("warp_id", "warpRun(warp_id)"),))

_table(_gpc1, "warpSkyfile", """
warp_id BIGINT
skycell_id V64
tess_id V64
uri V255
path_base V255
data_state V64
bg DOUBLE
bg_stdev DOUBLE
dtime_warp FLOAT
dtime_script FLOAT
hostname V64
good_frac FLOAT
xmin INT
xmax INT
ymin INT
ymax INT
quality SMALLINT NN d=0
fault SMALLINT
magicked BIGINT
software_ver V16
""" + _MASKFRAC_I + """
background_model SMALLINT
""", pk=("warp_id", "skycell_id", "tess_id"), keys=("good_frac", "fault", "quality", "data_state"),
    mysql_fks=((("warp_id", "skycell_id", "tess_id"), "warpSkyCellMap(warp_id, skycell_id, tess_id)"),))

_table(_gpc1, "warpMask", "label V64", pk=("label",))

# ---------------------------------------------------------------- stack
_table(_gpc1, "stackRun", """
stack_id BIGINT AI
state V64
workdir V255
label V64
data_group V64
dist_group V64
reduction V64
dvodb V255
registered DATETIME
skycell_id V64
tess_id V64
filter V64
software_ver V16
note V255
""", pk=("stack_id",), keys=("state", "skycell_id", "tess_id", "label", "data_group", "dist_group"))

_table(_gpc1, "stackInputSkyfile", """
stack_id BIGINT
warp_id BIGINT
""", pk=("stack_id", "warp_id"), fks=(("stack_id", "stackRun(stack_id)"),),
    mysql_fks=(("warp_id", "warpSkyfile(warp_id)"),))

_table(_gpc1, "stackSumSkyfile", """
stack_id BIGINT
uri V255
path_base V255
bg DOUBLE
bg_stdev DOUBLE
dtime_stack FLOAT
dtime_match_mean FLOAT
dtime_match_stdev FLOAT
dtime_convolve FLOAT
dtime_initial FLOAT
dtime_reject FLOAT
dtime_final FLOAT
dtime_phot FLOAT
dtime_script FLOAT
match_mean FLOAT
match_stdev FLOAT
match_rms FLOAT
stamps_mean FLOAT
stamps_stdev FLOAT
stamps_min INT
reject_images INT
reject_pix_mean FLOAT
reject_pix_stdev FLOAT
sources INT
hostname V64
good_frac FLOAT
mjd_obs DOUBLE
fault SMALLINT
software_ver V16
background_model SMALLINT
quality SMALLINT NN d=0
""", pk=("stack_id",), keys=("dtime_stack", "good_frac", "fault", "quality"),
    fks=(("stack_id", "stackRun(stack_id)"),))

# ---------------------------------------------------------------- diff
_table(_gpc1, "diffRun", """
diff_id BIGINT AI
state V64
workdir V255
label V64
data_group V64
dist_group V64
reduction V64
dvodb V255
registered DATETIME
tess_id V64
bothways TINYINT d=0
exposure TINYINT d=0
magicked BIGINT
software_ver V16
""" + _MASKFRAC_F + """
diff_mode SMALLINT NN
note V255
""", pk=("diff_id",), keys=("state", "tess_id", "label", "data_group", "dist_group"))

_table(_gpc1, "diffInputSkyfile", """
diff_id BIGINT
skycell_id V64
warp1 BIGINT
stack1 BIGINT
warp2 BIGINT
stack2 BIGINT
tess_id V64
diff_skyfile_id BIGINT AI
""", pk=("diff_skyfile_id",), keys=(("diff_id", "skycell_id"), "warp1", "warp2", "stack1", "stack2",
                                   "skycell_id", "tess_id"),
    fks=(("diff_id", "diffRun(diff_id)"),
         (("warp1", "skycell_id", "tess_id"), "warpSkyfile(warp_id, skycell_id, tess_id)"),
         (("warp2", "skycell_id", "tess_id"), "warpSkyfile(warp_id, skycell_id, tess_id)"),
         ("stack1", "stackSumSkyfile(stack_id)"),
         ("stack2", "stackSumSkyfile(stack_id)")))

_table(_gpc1, "diffSkyfile", """
diff_id BIGINT
skycell_id V64
path_base V255
data_state V64
bg DOUBLE
bg_stdev DOUBLE
stamps_num INT
stamps_mean FLOAT
stamps_rms FLOAT
norm FLOAT
bg_diff FLOAT
kernel_x FLOAT
kernel_y FLOAT
kernel_xx FLOAT
kernel_xy FLOAT
kernel_yy FLOAT
deconv_max FLOAT
sources INT
dtime_diff FLOAT
dtime_match FLOAT
dtime_phot FLOAT
dtime_script FLOAT
hostname V64
good_frac FLOAT
quality SMALLINT NN d=0
fault SMALLINT
magicked BIGINT
software_ver V16
""" + _MASKFRAC_I, pk=("diff_id", "skycell_id"), keys=("good_frac", "fault", "quality", "data_state"),
    fks=(("diff_id", "diffRun(diff_id)"),))

# ---------------------------------------------------------------- publishing, labels
_table(_gpc1, "publishClient", """
client_id BIGINT AI
active TINYINT d=0
product V64
stage V64 NN
magicked TINYINT d=1
workdir V255 NN
comment V255
name V64
output_format SMALLINT NN d=1
""", pk=("client_id",), unique=("name",))

_table(_gpc1, "publishRun", """
pub_id BIGINT AI
client_id BIGINT NN
stage_id BIGINT NN
label V64
state V64
""", pk=("pub_id",), keys=("client_id", "stage_id", "label", "state"),
    fks=(("client_id", "publishClient(client_id)"),))

_table(_gpc1, "publishDone", """
pub_id BIGINT AI
path_base V255
hostname V64
dtime_script FLOAT
fault SMALLINT NN d=0
""", pk=("pub_id",), keys=("fault",), fks=(("pub_id", "publishRun(pub_id)"),))

_table(_gpc1, "Label", """
label V64
priority INT
active TINYINT
comment V80
""", pk=("label",), keys=("priority", "active"))

# The IPP creates both databases from one schema file; the pstamp tables are
# also part of gpc1 (and a gpc1-like database may serve as the pstamp database).
def _pstamp_table(name, columns, pk, keys=(), unique=(), fks=()):
    for md in (_pstamp, _gpc1):
        _table(md, name, columns, pk=pk, keys=keys, unique=unique, fks=fks)


_pstamp_table("pstampDataStore", """
ds_id BIGINT AI
state V64
lastFileset V64
timestamp DATETIME
label V64
outProduct V64
uri V255
pollInterval INT d=60
need_magic TINYINT
""", pk=("ds_id",), unique=("outProduct",))

_pstamp_table("pstampProject", """
proj_id BIGINT AI
name V64
state V64
dbname V64
dvodb V64
camera V64
telescope V64
need_magic TINYINT
""", pk=("proj_id",), unique=("name",))

_pstamp_table("pstampRequest", """
req_id BIGINT AI
ds_id BIGINT
state V64
name V64
reqType V16
label V64
outProduct V64
uri V255
outdir V255
username V255
proj_id BIGINT
registered DATETIME
timestamp TIMESTAMP d=now
fault SMALLINT
""", pk=("req_id",), keys=("state", "fault", "label", "username"), unique=("name",))

_pstamp_table("pstampJob", """
job_id BIGINT AI
req_id BIGINT
rownum V64
state V64
jobType V16
fault SMALLINT
exp_id BIGINT
outputBase V255
options BIGINT
dep_id BIGINT
fault_count INT
parent_id BIGINT d=NULL
is_parent TINYINT d=0
""", pk=("job_id", "req_id"), keys=("job_id", "req_id", "state", "fault", "dep_id", "parent_id",
                                    "is_parent"),
    fks=(("req_id", "pstampRequest(req_id)"),))

_pstamp_table("pstampDependent", """
dep_id BIGINT AI
state V64
stage V64
stage_id BIGINT
component V64
imagedb V64
outdir V255
rlabel V64
need_magic TINYINT
fault SMALLINT
fault_count INT
""", pk=("dep_id",), keys=("state", "stage", "stage_id", "component", "imagedb", "fault"))

_pstamp_table("pstampFile", """
file_id BIGINT AI
job_id BIGINT NN
path V255
""", pk=("file_id",), keys=("job_id",))

PSTAMP_TABLE_NAMES = tuple(n for md, n in _SPECS if md is _pstamp)
GPC1_TABLE_NAMES = tuple(n for md, n in _SPECS if md is _gpc1)
#: module attributes naming a table: the pstamp database's model for the pstamp tables
_ATTR = {n: (md, n) for md, n in reversed(_SPECS)}
_READY = True


def _built(md: MetaData, name: str) -> Table:
    """The model of *name* in *md*, built on first use. Its foreign keys name
    their parents as strings: SQLAlchemy links them when a parent is built (a
    join written without its ON clause finds them among the tables it joins)."""
    t = md.tables.get(name)
    if t is not None:
        return t
    spec = _SPECS[(md, name)]
    if callable(spec):
        return spec(md)
    columns, pk, kw = spec
    return _build_table(md, name, columns, pk, **kw)


def _all(md: MetaData) -> MetaData:
    """*md* with every table it models built."""
    if id(md) not in _COMPLETE:
        for m, n in _SPECS:
            if m is md:
                _built(m, n)
        _COMPLETE.add(id(md))
    return md


def table(name: str, *, pstamp_db: bool = False) -> Table:
    """Look a modelled table up by its IPP name."""
    md = _pstamp if pstamp_db else _gpc1
    if name in md.tables:
        return md.tables[name]
    if (md, name) not in _SPECS:
        raise KeyError(f"no modelled table {name!r}")
    return _built(md, name)


def __getattr__(name: str):
    if name in _PUBLIC_MD:
        return _all(_PUBLIC_MD[name])
    key = _ATTR.get(name)
    if key is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return _built(*key)


@event.listens_for(Table, "before_create")
def _mysql_options(table: Table, connection, **_kw) -> None:
    """The IPP's engine and charset on the tables mopstool creates on MySQL/MariaDB,
    given when they are created so that a process on SQLite never loads the MySQL
    dialect (which validating ``mysql_*`` keywords at declaration would do)."""
    options = table.info.get("mysql_kw")
    if options and connection.dialect.name in ("mysql", "mariadb"):
        for key, value in options.items():
            table.dialect_kwargs[key] = value
