"""The README's quick-start commands are what CI runs."""

from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_readme_two_commands_and_ci_in_step():
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install . && mopstool demo" in readme
    test_cmd = "pip install '.[test]' && python -m pytest -q"
    assert test_cmd in readme
    assert test_cmd in ci
