"""The documentation is tested: its code names exist and its examples run.

- Every backticked dotted name ``skfnn.…`` in docs/derivation.md (the table
  "equation → function" in particular) must resolve to an existing object.
- README.md and every docs/*.md run their ``>>>`` examples once, as pytest's
  doctest items (``--doctest-glob='*.md'`` over the ``testpaths``, with the
  ``doctest_optionflags`` of pyproject.toml); the test here checks that the
  configuration in force collects every page, so that no change to it can drop
  the examples silently, and that the pages that teach by example have examples.
"""

import doctest
import importlib
import re
from importlib.util import find_spec
from pathlib import Path

import pytest

from skfnn._array_api import dispatch_possible
from skfnn._sklearn_compat import HAS_CALLBACKS

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
DERIVATION = DOCS / "derivation.md"
# docs/monitoring.md is about scikit-learn's callback API: it runs where that API exists
# (scikit-learn >= 1.9); with an older one set_callbacks raises, tested in test_callbacks.
# docs/array_api.md trains on PyTorch under array_api_dispatch: it runs where both exist
# (tests/test_array_api.py fails in an array-API test environment that lacks them).
SKIPPED_PAGES = {"monitoring.md": not HAS_CALLBACKS,
                 "array_api.md": not (dispatch_possible() and find_spec("torch") is not None)}
DOCTEST_FILES = [ROOT / "README.md", *sorted(p for p in DOCS.glob("*.md")
                                              if not SKIPPED_PAGES.get(p.name, False))]

# A backticked span that is exactly a dotted path starting with "skfnn.".
DOTTED = re.compile(r"`(skfnn(?:\.\w+)+)`")

# The functions the derivation's table must name (issue 3).
REQUIRED = {
    "skfnn._engine.forward",
    "skfnn._engine.backward",
    "skfnn._engine.output_delta",
    "skfnn._engine.objective",
    "skfnn._engine.loss_and_gradient",
    "skfnn.losses.Loss.delta",
    "skfnn.gradcheck.check_gradients",
}


def resolve(path):
    """Import the longest importable module prefix of ``path``, then getattr the rest."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ImportError:
            continue
        for attribute in parts[n:]:
            obj = getattr(obj, attribute)  # AttributeError: the name does not exist
        return obj
    raise ImportError(path)


def derivation_names():
    return sorted(set(DOTTED.findall(DERIVATION.read_text(encoding="utf-8"))))


def test_resolve_finds_modules_classes_and_methods_and_rejects_the_rest():
    import skfnn._engine
    from skfnn.losses import Loss

    assert resolve("skfnn._engine") is skfnn._engine
    assert resolve("skfnn.losses.Loss.delta") is Loss.delta
    with pytest.raises(AttributeError):
        resolve("skfnn._engine.no_such_function")


def test_derivation_names_the_required_functions():
    names = derivation_names()
    assert REQUIRED <= set(names), sorted(REQUIRED - set(names))


@pytest.mark.parametrize("path", derivation_names())
def test_every_name_in_the_derivation_exists(path):
    obj = resolve(path)
    assert obj is not None
    if path in REQUIRED:
        assert callable(obj)


def test_every_doc_file_is_collected():
    names = {p.name for p in DOCTEST_FILES}
    assert {"README.md", "index.md", "derivation.md", "extending.md", "user_guide.md"} <= names


@pytest.mark.parametrize("path", DOCTEST_FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_doc_page_runs_as_a_doctest_under_pytest(path, pytestconfig):
    """The page is collected by pytest's doctest plugin (where it runs, once)."""
    assert "*.md" in pytestconfig.option.doctestglob
    testpaths = pytestconfig.getini("testpaths")
    assert "README.md" in testpaths and "docs" in testpaths
    # The root conftest's rule leaves out only the pages SKIPPED_PAGES names.
    assert not pytestconfig.hook.pytest_ignore_collect(collection_path=path,
                                                       config=pytestconfig)
    if path.name in {"README.md", "derivation.md", "extending.md", "user_guide.md"}:
        examples = doctest.DocTestParser().get_examples(path.read_text(encoding="utf-8"))
        assert examples, f"{path.name} has no >>> examples"


def test_the_pages_left_out_are_the_ones_the_environment_cannot_run(pytestconfig):
    for page in DOCS.glob("*.md"):
        left_out = bool(pytestconfig.hook.pytest_ignore_collect(collection_path=page,
                                                                config=pytestconfig))
        assert left_out == SKIPPED_PAGES.get(page.name, False), page.name
