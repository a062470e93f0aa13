"""What the documentation site's build relies on (the build itself runs in .ci/run).

- The estimators' docstrings are valid numpydoc for Sphinx as well as for
  mkdocstrings: a bare word ending in an underscore, such as n_features_in_, is an
  RST hyperlink reference, and Sphinx fails on its missing target.
- pytest's ``norecursedirs`` keeps the gallery's scripts (examples/ and their copies
  in docs/generated/) out of ``--doctest-modules``, which would run them on import:
  the repository's conftest.py must leave those paths to pytest.
"""

import importlib.util
import re
from pathlib import Path

import pytest

import skfnn
from skfnn import FNNClassifier, FNNEnsembleClassifier, FNNEnsembleRegressor, FNNRegressor

ROOT = Path(__file__).resolve().parents[1]
# A numpydoc entry line, "name : type" (or "name1, name2 : type"); the names are not RST.
ENTRY = re.compile(r"^\s*[\w, ]+ : ")
LITERAL = re.compile(r"``.*?``")
# A word ending in "_", followed by what may end RST inline markup (whitespace, the end,
# or closing punctuation): RST's `name_` hyperlink reference.
REFERENCE = re.compile(r"(?<![\w`])[A-Za-z]\w*_(?=\s|$|[-.,:;!?\\/'\")\]}>])")


def rst_references(docstring):
    """The bare ``word_`` references of a docstring, outside ``literals``."""
    found = []
    for line in docstring.splitlines():
        text = LITERAL.sub("", ENTRY.sub("", line))
        found += REFERENCE.findall(text)
    return found


def test_rst_references_finds_bare_words_and_skips_names_and_literals():
    doc = ("    coefs_ : list\n        See ``intercepts_`` and n_iter_.\n"
           "    x : shape (n_features_in_,)\n        W of shape (n_{l-1}, n_l)\n")
    assert rst_references(doc) == ["n_iter_", "n_features_in_"]


@pytest.mark.parametrize("estimator", [FNNClassifier, FNNRegressor, FNNEnsembleClassifier,
                                       FNNEnsembleRegressor])
def test_estimator_docstrings_have_no_bare_rst_references(estimator):
    assert rst_references(estimator.__doc__) == []


def test_conftest_leaves_other_paths_to_pytest():
    spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
    conftest = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(conftest)
    for path in ("docs/generated/gallery/plot_01.py", "examples/plot_01.py", "docs/index.md"):
        assert conftest.pytest_ignore_collect(ROOT / path, config=None) is None


def public_modules():
    """skfnn's public modules: the package's own files whose names start with a letter."""
    package = Path(skfnn.__file__).resolve().parent  # the wheel's in .ci/run's last run
    names = [p.stem for p in package.glob("*.py") if not p.stem.startswith("_")]
    names += [p.name for p in package.iterdir()
              if p.is_dir() and not p.name.startswith("_") and (p / "__init__.py").exists()]
    return sorted(f"skfnn.{name}" for name in names)


def test_every_public_module_has_an_api_page_in_the_nav():
    # The API reference is generated per module (`::: skfnn.x` in docs/api/); a module
    # without its page would be missing from the site without any build error.
    pages = {page: page.read_text(encoding="utf-8")
             for page in (ROOT / "docs" / "api").glob("*.md")}
    documented = {m.group(1) for text in pages.values()
                  for m in re.finditer(r"^::: (skfnn\.\w+)", text, flags=re.M)}
    assert public_modules(), "no public module found"
    # skfnn.optimizers holds the steps the `solver` parameter chooses; users never build
    # them, and the module is internal despite its name (a rename would break pickles).
    missing = sorted(set(public_modules()) - documented - {"skfnn.optimizers"})
    assert not missing, f"public modules without a docs/api page: {missing}"
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    unlisted = sorted(p.name for p in pages if f"api/{p.name}" not in nav)
    assert not unlisted, f"docs/api pages missing from mkdocs.yml's nav: {unlisted}"


def test_a_bare_role_naming_a_top_level_module_does_not_crash_the_site_build(
        tmp_path, monkeypatch):
    # `pip install ".[docs]"` leaves a build/ folder in the repository, which makes
    # `build` an importable namespace package; the role :func:`build` (skfnn/_problem.py)
    # then resolved to it and its parent path "" crashed `mkdocs build --strict` with
    # "ValueError: Empty module name". A bare word that is a module is not skfnn's API.
    pytest.importorskip("griffe")
    (tmp_path / "build").mkdir()
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.syspath_prepend(str(ROOT / "docs" / "_scripts"))
    import griffe_rst_roles

    package = griffe_rst_roles.griffe.Module("skfnn")
    package.docstring = griffe_rst_roles.griffe.Docstring(
        "See :func:`build`, :mod:`json` and :func:`check_gradients`.")
    griffe_rst_roles.RstRoles().on_package(pkg=package)
    assert package.docstring.value == (
        "See `build`, `json` and [`check_gradients`][skfnn.check_gradients].")
