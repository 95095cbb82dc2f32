"""A gpc1 schema as the IPP creates it (pxadmin -create), for the tables mopstool uses.

Written for the tests from the facts of ippTools/share/pxadmin_create_tables.sql:
the same tables, column types, NULL/NOT NULL, defaults, AUTO_INCREMENT columns,
keys and the foreign keys between them, every table InnoDB with DEFAULT CHARSET
latin1 -- and no table of mopstool's own. It is deliberately independent of
mopstool.db.schema, so the command tests that run on it check the model against
the IPP's DDL rather than against itself.

Notation, one table per entry: columns ``name TYPE [NN] [AI] [=DEFAULT]``
separated by commas (TS is TIMESTAMP DEFAULT CURRENT_TIMESTAMP, Vn VARCHAR(n));
then keys ``PK(..)``, ``K(..)``, ``U(..)`` and foreign keys ``FK(..)>table(..)``.
"""

from __future__ import annotations

_OBS = ("airmass FLOAT, ra DOUBLE, decl DOUBLE, exp_time FLOAT, sat_pixel_frac FLOAT, bg DOUBLE, "
        "bg_stdev DOUBLE, bg_mean_stdev DOUBLE, alt DOUBLE, az DOUBLE, ccd_temp FLOAT, posang DOUBLE, "
        "m1_x FLOAT, m1_y FLOAT, m1_z FLOAT, m1_tip FLOAT, m1_tilt FLOAT, m2_x FLOAT, m2_y FLOAT, "
        "m2_z FLOAT, m2_tip FLOAT, m2_tilt FLOAT, env_temperature FLOAT, env_humidity FLOAT, "
        "env_wind_speed FLOAT, env_wind_dir FLOAT, teltemp_m1 FLOAT, teltemp_m1cell FLOAT, "
        "teltemp_m2 FLOAT, teltemp_spider FLOAT, teltemp_truss FLOAT, teltemp_extra FLOAT, "
        "pon_time FLOAT, user_1 DOUBLE, user_2 DOUBLE, user_3 DOUBLE, user_4 DOUBLE, user_5 DOUBLE, "
        "object V64, sun_angle FLOAT, sun_alt FLOAT, moon_angle FLOAT, moon_alt FLOAT, moon_phase FLOAT")
_IQ = ("fwhm_major FLOAT, fwhm_major_lq FLOAT, fwhm_major_uq FLOAT, fwhm_minor FLOAT, "
       "fwhm_minor_lq FLOAT, fwhm_minor_uq FLOAT, iq_fwhm_major FLOAT, iq_fwhm_major_err FLOAT, "
       "iq_fwhm_minor FLOAT, iq_fwhm_minor_err FLOAT, "
       + ", ".join(f"iq_{m} FLOAT, iq_{m}_err FLOAT, iq_{m}_lq FLOAT, iq_{m}_uq FLOAT"
                   for m in ("m2", "m2c", "m2s", "m3", "m4")))
_MF = "maskfrac_static FLOAT, maskfrac_dynamic FLOAT, maskfrac_magic FLOAT, maskfrac_advisory FLOAT"
_RUN_KEYS = "K(state) K(workdir_state) K(label) K(data_group) K(dist_group) K(expgroup) K(end_stage)"

#: (table, columns, keys) in creation order (parents first)
TABLES: list[tuple[str, str, str]] = [
    ("dbversion", "schema_version V64, updated TS", ""),
    ("summitExp", "summit_id BIGINT NN AI, exp_name V64, camera V64, telescope V64, dateobs DATETIME, "
                  "exp_type V64, uri V255, imfiles INT, fault SMALLINT NN, epoch TS",
     "PK(summit_id) K(exp_name,camera,telescope) K(fault)"),
    ("newExp", "exp_id BIGINT AI, summit_id BIGINT, tmp_exp_name V64, tmp_camera V64, tmp_telescope V64, "
               "state V64, workdir V255, workdir_state V64, reduction V64, dvodb V255, tess_id V64, "
               "end_stage V64, label V64, epoch TS",
     "PK(exp_id) K(exp_id) K(summit_id) K(tmp_exp_name) K(tmp_camera) K(tmp_telescope) K(state) "
     "K(workdir_state) K(end_stage) K(label)"),
    ("newImfile", "exp_id BIGINT, tmp_class_id V64, uri V255, epoch TS, bytes INT, md5sum V32",
     "PK(exp_id,tmp_class_id) FK(exp_id)>newExp(exp_id)"),
    ("rawExp", "exp_id BIGINT, exp_name V64, camera V64, telescope V64, dateobs DATETIME, exp_tag V255, "
               "exp_type V64, filelevel V64, workdir V255, state V64, reduction V64, dvodb V255, "
               "tess_id V64, end_stage V64, filter V64, comment V80, obs_mode V64, obs_group V64, "
               + _OBS + ", hostname V64, fault SMALLINT NN, epoch TS, magicked BIGINT",
     "PK(exp_id) K(end_stage) K(fault) K(state) K(exp_name) FK(exp_id)>newExp(exp_id)"),
    ("rawImfile", "exp_id BIGINT, exp_name V64, camera V64, telescope V64, dateobs DATETIME, "
                  "tmp_class_id V64, class_id V64, uri V255, data_state V64, exp_type V64, filelevel V64, "
                  "filter V64, comment V80, obs_mode V64, obs_group V64, " + _OBS
                  + ", ignored TINYINT =0, hostname V64, quality SMALLINT NN =0, fault SMALLINT NN, "
                  "epoch TS, raw_image_id BIGINT AI, magicked BIGINT, bytes INT, md5sum V32, "
                  "burntool_state SMALLINT, video_cells TINYINT =0",
     "PK(exp_id,class_id) K(tmp_class_id) K(fault) K(raw_image_id) K(quality) K(dateobs) "
     "U(exp_id,tmp_class_id) FK(exp_id,tmp_class_id)>newImfile(exp_id,tmp_class_id)"),
    ("chipRun", "chip_id BIGINT AI, exp_id BIGINT, state V64, workdir V255, workdir_state V64, label V64, "
                "data_group V64, dist_group V64, reduction V64, expgroup V64, dvodb V255, tess_id V64, "
                "end_stage V64, magicked BIGINT, software_ver V16, maskfrac_npix FLOAT, " + _MF
                + ", update_mode SMALLINT =0, note V255",
     "PK(chip_id) K(chip_id) K(exp_id) " + _RUN_KEYS + " K(chip_id,exp_id) FK(exp_id)>rawExp(exp_id)"),
    ("chipImfile", "chip_id BIGINT, class_id V64, chip_imfile_id BIGINT AI",
     "PK(chip_id,class_id) K(chip_imfile_id) FK(chip_id)>chipRun(chip_id)"),
    ("chipProcessedImfile",
     "chip_id BIGINT, exp_id BIGINT, class_id V64, data_state V64, uri V255, bg FLOAT, bg_stdev FLOAT, "
     "bg_mean_stdev FLOAT, bias FLOAT, bias_stdev FLOAT, fringe_0 FLOAT, fringe_1 FLOAT, fringe_2 FLOAT, "
     "ap_resid FLOAT, ap_resid_stdev FLOAT, " + _IQ + ", dtime_detrend FLOAT, dtime_photom FLOAT, "
     "dtime_total FLOAT, dtime_script FLOAT, hostname V64, n_stars INT, n_psfstars INT, n_iqstars INT, "
     "n_extended INT, n_cr INT, path_base V255, quality SMALLINT NN =0, fault SMALLINT NN, "
     "magicked BIGINT, software_ver V16, maskfrac_npix INT, " + _MF + ", deteff_magref FLOAT",
     "PK(chip_id,exp_id,class_id) K(data_state) K(fault) K(quality) "
     "FK(chip_id,exp_id)>chipRun(chip_id,exp_id) FK(exp_id,class_id)>rawImfile(exp_id,class_id)"),
    ("chipMask", "label V64", "PK(label)"),
    ("camRun", "cam_id BIGINT AI, chip_id BIGINT, state V64, workdir V255, workdir_state V64, label V64, "
               "data_group V64, dist_group V64, reduction V64, expgroup V64, dvodb V255, tess_id V64, "
               "end_stage V64, magicked BIGINT, software_ver V16, "
               + ", ".join(f"maskfrac_{w}_{k} FLOAT" for w in ("ref", "max")
                           for k in ("npix", "static", "dynamic", "magic", "advisory")) + ", note V255",
     "PK(cam_id) K(cam_id) K(chip_id) " + _RUN_KEYS + " K(cam_id,chip_id) FK(chip_id)>chipRun(chip_id)"),
    ("camProcessedExp",
     "cam_id BIGINT, uri V255, bg FLOAT, bg_stdev FLOAT, bg_mean_stdev FLOAT, bias FLOAT, bias_stdev FLOAT, "
     "fringe_0 FLOAT, fringe_1 FLOAT, fringe_2 FLOAT, sigma_ra FLOAT, sigma_dec FLOAT, ap_resid FLOAT, "
     "ap_resid_stdev FLOAT, zpt_obs FLOAT, zpt_stdev FLOAT, zpt_lq FLOAT, zpt_uq FLOAT, " + _IQ
     + ", dtime_script FLOAT, dtime_astrom FLOAT, dtime_addstar FLOAT, hostname V64, n_stars INT, "
     "n_psfstars INT, n_iqstars INT, n_extended INT, n_cr INT, n_astrom INT, path_base V255, "
     "fault SMALLINT NN, software_ver V16, "
     + ", ".join(f"maskfrac_{w}_npix INT, maskfrac_{w}_static FLOAT, maskfrac_{w}_dynamic FLOAT, "
                 f"maskfrac_{w}_magic FLOAT, maskfrac_{w}_advisory FLOAT" for w in ("ref", "max"))
     + ", deteff FLOAT, deteff_err FLOAT, deteff_lq FLOAT, deteff_uq FLOAT, quality SMALLINT NN =0, "
     "background_model SMALLINT, astrom_chips BIGINT, ast_r0 FLOAT, ast_d0 FLOAT, ast_t0 FLOAT, "
     "ast_s0 FLOAT, ast_rs FLOAT, ast_ds FLOAT",
     "PK(cam_id) K(fault) K(quality) FK(cam_id)>camRun(cam_id)"),
    ("camMask", "label V64", "PK(label)"),
    ("fakeRun", "fake_id BIGINT AI, cam_id BIGINT, state V64, workdir V255, label V64, data_group V64, "
                "dist_group V64, reduction V64, expgroup V64, dvodb V255, tess_id V64, end_stage V64, "
                "epoch TS, note V255",
     "PK(fake_id) K(cam_id) K(state) K(label) K(data_group) K(dist_group) K(expgroup) K(end_stage) "
     "K(fake_id,cam_id) FK(cam_id)>camRun(cam_id)"),
    ("fakeProcessedImfile", "fake_id BIGINT AI, exp_id BIGINT, class_id V64, uri V255, dtime_fake FLOAT, "
                            "dtime_script FLOAT, hostname V64, path_base V255, data_state V64, "
                            "fault SMALLINT NN, epoch TS",
     "PK(fake_id,exp_id,class_id) K(fault) FK(fake_id)>fakeRun(fake_id) "
     "FK(exp_id,class_id)>rawImfile(exp_id,class_id)"),
    ("fakeMask", "label V64", "PK(label)"),
    ("warpRun", "warp_id BIGINT AI, fake_id BIGINT, mode V64, state V64, workdir V255, workdir_state V64, "
                "label V64, data_group V64, dist_group V64, dvodb V255, tess_id V64, reduction V64, "
                "end_stage V64, registered DATETIME, magicked BIGINT, software_ver V16, "
                "maskfrac_npix FLOAT, " + _MF + ", note V255",
     "PK(warp_id) K(warp_id) K(fake_id) K(mode) K(state) K(workdir_state) K(label) K(data_group) "
     "K(dist_group) K(end_stage) K(warp_id,fake_id) FK(fake_id)>fakeRun(fake_id)"),
    ("warpSkyCellMap", "warp_id BIGINT, skycell_id V64, tess_id V64, class_id V64, fault SMALLINT",
     "PK(warp_id,skycell_id,tess_id,class_id) K(fault) FK(warp_id)>warpRun(warp_id)"),
    ("warpImfile", "warp_id BIGINT, skycell_id V64, warp_skyfile_id BIGINT AI",
     "PK(warp_id,skycell_id) K(warp_skyfile_id) FK(warp_id)>warpRun(warp_id)"),
    ("warpSkyfile", "warp_id BIGINT, skycell_id V64, tess_id V64, uri V255, path_base V255, data_state V64, "
                    "bg DOUBLE, bg_stdev DOUBLE, dtime_warp FLOAT, dtime_script FLOAT, hostname V64, "
                    "good_frac FLOAT, xmin INT, xmax INT, ymin INT, ymax INT, quality SMALLINT NN =0, "
                    "fault SMALLINT, magicked BIGINT, software_ver V16, maskfrac_npix INT, " + _MF
                    + ", background_model SMALLINT",
     "PK(warp_id,skycell_id,tess_id) K(good_frac) K(fault) K(quality) K(data_state) "
     "FK(warp_id,skycell_id,tess_id)>warpSkyCellMap(warp_id,skycell_id,tess_id)"),
    ("warpMask", "label V64", "PK(label)"),
    ("stackRun", "stack_id BIGINT AI, state V64, workdir V255, label V64, data_group V64, dist_group V64, "
                 "reduction V64, dvodb V255, registered DATETIME, skycell_id V64, tess_id V64, "
                 "filter V64, software_ver V16, note V255",
     "PK(stack_id) K(stack_id) K(state) K(skycell_id) K(tess_id) K(label) K(data_group) K(dist_group)"),
    ("stackInputSkyfile", "stack_id BIGINT, warp_id BIGINT",
     "PK(stack_id,warp_id) FK(stack_id)>stackRun(stack_id) FK(warp_id)>warpSkyfile(warp_id)"),
    ("stackSumSkyfile",
     "stack_id BIGINT, uri V255, path_base V255, bg DOUBLE, bg_stdev DOUBLE, dtime_stack FLOAT, "
     "dtime_match_mean FLOAT, dtime_match_stdev FLOAT, dtime_convolve FLOAT, dtime_initial FLOAT, "
     "dtime_reject FLOAT, dtime_final FLOAT, dtime_phot FLOAT, dtime_script FLOAT, match_mean FLOAT, "
     "match_stdev FLOAT, match_rms FLOAT, stamps_mean FLOAT, stamps_stdev FLOAT, stamps_min INT, "
     "reject_images INT, reject_pix_mean FLOAT, reject_pix_stdev FLOAT, sources INT, hostname V64, "
     "good_frac FLOAT, mjd_obs DOUBLE, fault SMALLINT, software_ver V16, background_model SMALLINT, "
     "quality SMALLINT NN =0",
     "PK(stack_id) K(dtime_stack) K(good_frac) K(fault) K(quality) FK(stack_id)>stackRun(stack_id)"),
    ("diffRun", "diff_id BIGINT AI, state V64, workdir V255, label V64, data_group V64, dist_group V64, "
                "reduction V64, dvodb V255, registered DATETIME, tess_id V64, bothways TINYINT =0, "
                "exposure TINYINT =0, magicked BIGINT, software_ver V16, maskfrac_npix FLOAT, " + _MF
                + ", diff_mode SMALLINT NN, note V255",
     "PK(diff_id) K(diff_id) K(state) K(tess_id) K(label) K(data_group) K(dist_group)"),
    ("diffInputSkyfile", "diff_id BIGINT, skycell_id V64, warp1 BIGINT, stack1 BIGINT, warp2 BIGINT, "
                         "stack2 BIGINT, tess_id V64, diff_skyfile_id BIGINT AI",
     "PK(diff_skyfile_id) K(diff_id,skycell_id) K(warp1) K(warp2) K(stack1) K(stack2) K(skycell_id) "
     "K(tess_id) FK(diff_id)>diffRun(diff_id) "
     "FK(warp1,skycell_id,tess_id)>warpSkyfile(warp_id,skycell_id,tess_id) "
     "FK(warp2,skycell_id,tess_id)>warpSkyfile(warp_id,skycell_id,tess_id) "
     "FK(stack1)>stackSumSkyfile(stack_id) FK(stack2)>stackSumSkyfile(stack_id)"),
    ("diffSkyfile", "diff_id BIGINT, skycell_id V64, path_base V255, data_state V64, bg DOUBLE, "
                    "bg_stdev DOUBLE, stamps_num INT, stamps_mean FLOAT, stamps_rms FLOAT, norm FLOAT, "
                    "bg_diff FLOAT, kernel_x FLOAT, kernel_y FLOAT, kernel_xx FLOAT, kernel_xy FLOAT, "
                    "kernel_yy FLOAT, deconv_max FLOAT, sources INT, dtime_diff FLOAT, dtime_match FLOAT, "
                    "dtime_phot FLOAT, dtime_script FLOAT, hostname V64, good_frac FLOAT, "
                    "quality SMALLINT NN =0, fault SMALLINT, magicked BIGINT, software_ver V16, "
                    "maskfrac_npix INT, " + _MF,
     "PK(diff_id,skycell_id) K(good_frac) K(fault) K(quality) K(data_state) FK(diff_id)>diffRun(diff_id)"),
    ("pstampDataStore", "ds_id BIGINT AI, state V64, lastFileset V64, timestamp DATETIME, label V64, "
                        "outProduct V64, uri V255, pollInterval INT =60, need_magic TINYINT",
     "PK(ds_id) K(ds_id) U(outProduct)"),
    ("pstampProject", "proj_id BIGINT AI, name V64, state V64, dbname V64, dvodb V64, camera V64, "
                      "telescope V64, need_magic TINYINT", "PK(proj_id) K(proj_id) U(name)"),
    ("pstampRequest", "req_id BIGINT AI, ds_id BIGINT, state V64, name V64, reqType V16, label V64, "
                      "outProduct V64, uri V255, outdir V255, username V255, proj_id BIGINT, "
                      "registered DATETIME, timestamp TS, fault SMALLINT",
     "PK(req_id) K(req_id) K(state) K(fault) K(label) K(username) U(name)"),
    ("pstampJob", "job_id BIGINT AI, req_id BIGINT, rownum V64, state V64, jobType V16, fault SMALLINT, "
                  "exp_id BIGINT, outputBase V255, options BIGINT, dep_id BIGINT, fault_count INT, "
                  "parent_id BIGINT =NULL, is_parent TINYINT =0",
     "PK(job_id,req_id) K(job_id) K(req_id) K(state) K(fault) K(dep_id) K(parent_id) K(is_parent) "
     "FK(req_id)>pstampRequest(req_id)"),
    ("pstampDependent", "dep_id BIGINT AI, state V64, stage V64, stage_id BIGINT, component V64, "
                        "imagedb V64, outdir V255, rlabel V64, need_magic TINYINT, fault SMALLINT, "
                        "fault_count INT",
     "PK(dep_id) K(state) K(stage) K(stage_id) K(component) K(imagedb) K(fault)"),
    ("pstampFile", "file_id BIGINT AI, job_id BIGINT NN, path V255", "PK(file_id) K(job_id)"),
    ("publishClient", "client_id BIGINT AI, active TINYINT =0, product V64, stage V64 NN, "
                      "magicked TINYINT =1, workdir V255 NN, comment V255, name V64 =NULL, "
                      "output_format SMALLINT NN =1", "PK(client_id) U(name)"),
    ("publishRun", "pub_id BIGINT AI, client_id BIGINT NN, stage_id BIGINT NN, label V64, state V64",
     "PK(pub_id) K(client_id) K(stage_id) K(label) K(state) FK(client_id)>publishClient(client_id)"),
    ("publishDone", "pub_id BIGINT AI, path_base V255, hostname V64, dtime_script FLOAT, "
                    "fault SMALLINT NN =0",
     "PK(pub_id) K(fault) FK(pub_id)>publishRun(pub_id)"),
    ("Label", "label V64, priority INT, active TINYINT, comment V80", "PK(label) K(priority) K(active)"),
]

TABLE_NAMES = tuple(t[0] for t in TABLES)


def _column(spec: str) -> str:
    words = spec.split()
    name, typ, mods = words[0], words[1], words[2:]
    if typ.startswith("V") and typ[1:].isdigit():
        sql = f"VARCHAR({typ[1:]})"
    elif typ == "TS":
        return f"`{name}` TIMESTAMP DEFAULT CURRENT_TIMESTAMP"
    else:
        sql = typ
    out = [f"`{name}`", sql]
    if "NN" in mods:
        out.append("NOT NULL")
    for m in mods:
        if m.startswith("="):
            out.append(f"DEFAULT {m[1:]}")
    if "AI" in mods:
        out.append("AUTO_INCREMENT")
    return " ".join(out)


def _cols(text: str) -> str:
    return ", ".join(f"`{c.strip()}`" for c in text.split(","))


def create_table_sql(name: str, columns: str, keys: str) -> str:
    lines = [_column(c.strip()) for c in columns.split(",") if c.strip()]
    for k in keys.split():
        if k.startswith("PK("):
            lines.append(f"PRIMARY KEY({_cols(k[3:-1])})")
        elif k.startswith("K("):
            lines.append(f"KEY({_cols(k[2:-1])})")
        elif k.startswith("U("):
            lines.append(f"UNIQUE KEY({_cols(k[2:-1])})")
        elif k.startswith("FK("):
            local, remote = k[3:].split(")>", 1)
            table, rcols = remote.split("(", 1)
            lines.append(f"FOREIGN KEY({_cols(local)}) REFERENCES `{table}`({_cols(rcols[:-1])})")
        else:  # pragma: no cover - a typo in the table list
            raise ValueError(f"{name}: bad key {k!r}")
    body = ",\n    ".join(lines)
    return f"CREATE TABLE `{name}` (\n    {body}\n) ENGINE=InnoDB DEFAULT CHARSET=latin1"


def create_all(conn) -> None:
    """Create the tables on a MySQL/MariaDB connection (an empty database)."""
    from sqlalchemy import text

    for name, columns, keys in TABLES:
        conn.execute(text(create_table_sql(name, columns, keys)))


def show_create(conn) -> dict[str, str]:
    """SHOW CREATE TABLE of every table (AUTO_INCREMENT counters left out)."""
    import re

    from sqlalchemy import text

    out = {}
    for (name,) in conn.execute(text("SHOW TABLES")):
        ddl = conn.execute(text(f"SHOW CREATE TABLE `{name}`")).one()[1]
        out[name] = re.sub(r" AUTO_INCREMENT=\d+", "", ddl)
    return out
