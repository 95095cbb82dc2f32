"""The README's quick-start commands are what CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_two_commands_and_ci_in_step():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install . && mopstool demo" in readme
    test_cmd = "pip install '.[test]' && python -m pytest -q -n 4"
    assert test_cmd in readme
    assert test_cmd in ci


def test_ci_keeps_to_the_test_prefix_and_ignores_its_venv():
    ci = (ROOT / ".ci" / "run").read_text()
    assert "CREATE DATABASE" not in ci                 # the tests create what they use
    assert 'MOPSTOOL_TEST_DB_PREFIX="mopstool_ci_"' in ci
    assert ".ci-venv/" in (ROOT / ".gitignore").read_text().splitlines()
