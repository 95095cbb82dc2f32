from mopstool.errors import ExitCode


def test_runs_empty_and_unknown_stage(cli, db_url):
    r = cli("runs", "chip", "--db", db_url, "--json")
    assert r.code == 0, r.err
    assert r.json() == []
    r = cli("runs", "nosuch", "--db", db_url)
    assert r.code == ExitCode.USAGE
    assert "unknown stage 'nosuch'" in r.err
    assert r.err.count("\n") == 1


def test_show_missing_id(cli, db_url):
    r = cli("show", "warp", "999", "--db", db_url)
    assert r.code == ExitCode.DATA
    assert "no warp run with warp_id 999" in r.err
