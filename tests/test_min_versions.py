"""The minimum dependency versions in pyproject.toml are the ones CI tests.

.ci/run installs the built wheel with .ci/min-versions.txt as pip constraints and
runs the test-suite there, so the lower bounds that pyproject.toml declares are
true only while the two files agree: these tests keep them equal.
"""

import re
from pathlib import Path

import pytest

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
MIN_VERSIONS = ROOT / ".ci" / "min-versions.txt"
CI_RUN = ROOT / ".ci" / "run"

# "name>=version", nothing else: a single lower bound that a pin can equal.
LOWER_BOUND = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)>=([0-9][0-9A-Za-z.]*)$")
PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][0-9A-Za-z.]*)$")


def _canonical(name):
    """Package names compare as pip compares them (PEP 503)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _parse(lines, pattern, what):
    """{canonical name: version} from requirement lines that all match ``pattern``."""
    found = {}
    for line in lines:
        match = pattern.match(line)
        assert match, f"{what}: {line!r} is not of the form {pattern.pattern}"
        name, version = match.groups()
        assert _canonical(name) not in found, f"{what}: {name} is listed twice"
        found[_canonical(name)] = version
    return found


def declared_minimums():
    """The lower bounds of pyproject.toml's core dependencies."""
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    lines = [requirement.replace(" ", "") for requirement in project["dependencies"]]
    return _parse(lines, LOWER_BOUND, "pyproject.toml dependencies")


def pinned_minimums():
    """The pins of .ci/min-versions.txt (comments and blank lines ignored)."""
    text = MIN_VERSIONS.read_text(encoding="utf-8")
    lines = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    return _parse([line for line in lines if line], PIN, ".ci/min-versions.txt")


def test_parsers_read_names_and_versions():
    assert _parse(["scikit_learn>=1.7.0", "NumPy>=1.23.2"], LOWER_BOUND, "x") == {
        "scikit-learn": "1.7.0",
        "numpy": "1.23.2",
    }


@pytest.mark.parametrize("line", ["numpy>=1.23,<3", "numpy", "numpy~=1.23", "numpy==1.23.2"])
def test_parsers_reject_anything_but_one_lower_bound(line):
    with pytest.raises(AssertionError, match="is not of the form"):
        _parse([line], LOWER_BOUND, "x")


def test_parsers_reject_a_name_listed_twice():
    with pytest.raises(AssertionError, match="listed twice"):
        _parse(["scikit-learn>=1.7.0", "scikit_learn>=1.8.0"], LOWER_BOUND, "x")


def test_every_core_dependency_has_a_pinned_minimum_equal_to_its_lower_bound():
    declared = declared_minimums()
    assert set(declared) == {"numpy", "scipy", "scikit-learn", "threadpoolctl"}
    assert pinned_minimums() == declared


def test_ci_installs_the_minimum_versions_as_constraints():
    commands = [line.strip() for line in CI_RUN.read_text(encoding="utf-8").splitlines()]
    assert any(
        re.search(r"\bpip install\b.*--constraint\s+\S*\.ci/min-versions\.txt", command)
        for command in commands
    ), "no `pip install --constraint .../.ci/min-versions.txt` line in .ci/run"


MIN_EXTRAS = ROOT / ".ci" / "min-extras.txt"
# The extras whose floors the minimum-versions run pins (the others have none).
PINNED_EXTRAS = ("onnx", "io", "dask")


def test_the_pinned_extras_are_the_extras_lower_bounds():
    """The minimum-versions run installs the extras at their own floors too (the
    newest onnx needs a newer ml_dtypes than numpy 1.23 allows)."""
    extras = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"][
        "optional-dependencies"]
    lines = [r.replace(" ", "") for name in PINNED_EXTRAS for r in extras[name]]
    text = MIN_EXTRAS.read_text(encoding="utf-8")
    pins = [line.split("#", 1)[0].strip() for line in text.splitlines()]
    assert _parse([p for p in pins if p], PIN, ".ci/min-extras.txt") == _parse(
        lines, LOWER_BOUND, "pyproject.toml extras")
    assert "--constraint \"$repo_root/.ci/min-extras.txt\"" in CI_RUN.read_text(encoding="utf-8")
