"""The README's Quick start, the CI script and ``python -m skfnn`` agree."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
CI_RUN = ROOT / ".ci" / "run"

INSTALL_AND_RUN = "pip install . && python -m skfnn"
INSTALL_AND_TEST = 'pip install ".[test]" && python -m pytest'


def quick_start_commands():
    """The non-blank lines of the fenced code block(s) in README's Quick start."""
    text = README.read_text(encoding="utf-8")
    section = re.search(r"^## Quick start\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    assert section is not None, "README.md has no '## Quick start' section"
    blocks = re.findall(r"^```[^\n]*\n(.*?)^```", section.group(1), re.M | re.S)
    return [line.strip() for block in blocks for line in block.splitlines() if line.strip()]


def test_readme_quick_start_has_exactly_the_two_commands():
    assert quick_start_commands() == [INSTALL_AND_RUN, INSTALL_AND_TEST]


def test_ci_runs_the_readme_test_command_verbatim():
    (test_command,) = [c for c in quick_start_commands() if "pytest" in c]
    script = CI_RUN.read_text(encoding="utf-8")
    commands = [line.strip() for line in script.splitlines()]
    assert test_command in commands
    assert "set -euo pipefail" in commands
    assert os.access(CI_RUN, os.X_OK), ".ci/run is not executable"


def test_python_m_skfnn_help():
    result = subprocess.run(
        [sys.executable, "-m", "skfnn", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


def test_python_m_skfnn_rejects_unknown_command():
    from skfnn.__main__ import main

    with pytest.raises(SystemExit) as excinfo:
        main(["no-such-command"])
    assert excinfo.value.code == 2


def test_main_job(monkeypatch, capsys):
    """``python -m skfnn`` without arguments: both libraries on both data sets, and a
    gradient check that passes (one fit per model instead of the fastest of two)."""
    import skfnn.__main__ as cli

    monkeypatch.setattr(cli, "REPEATS", 1)
    assert cli.main([]) == 0
    out = capsys.readouterr().out
    for name in ("FNNClassifier", "MLPClassifier", "FNNRegressor", "MLPRegressor"):
        assert name in out
    assert re.search(r"^gradient check: .* = \d\.\d\de[-+]\d+ \(passed\)$", out, re.M), out


def test_ci_runs_the_array_api_tests_in_its_first_environment():
    """PyTorch's CPU build (a CI pin, not an extra) and SCIPY_ARRAY_API=1 around README's
    test command, and not in the minimum-versions environment (scipy 1.11 has no array
    API support)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    lines = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    install = lines.index('pip install --quiet -r "$repo_root/.ci/array-api.txt"')
    export = next(i for i, line in enumerate(lines) if line.startswith("export SCIPY_ARRAY_API=1"))
    run = lines.index("readme_test_command")
    unset = next(i for i, line in enumerate(lines) if line.startswith("unset SCIPY_ARRAY_API"))
    minimum = next(i for i, line in enumerate(lines) if "--constraint" in line)
    assert install < run and export < run < unset < minimum
    pins = [line.split("#", 1)[0].strip()
            for line in (ROOT / ".ci" / "array-api.txt").read_text(encoding="utf-8").splitlines()]
    assert [p for p in pins if p] == ["torch==2.13.0"]
    extras = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"][
        "optional-dependencies"]
    assert "array-api-strict" in extras["test"]
    assert not any(r.startswith("torch") for reqs in extras.values() for r in reqs)
