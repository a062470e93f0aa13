"""docs/api.md lists every public name, with its current signature and summary.

The public names are read from the modules' ``__all__`` at test time, so a name
added later fails the test until the page has it. A public module is added by
extending PUBLIC_MODULES (and giving the page a ``## module`` section).

``python .ci/update_api_page.py`` rewrites the entries in this format (then read
its diff). The page's format, per module section ``## skfnn.module``, one entry per name::

    ### skfnn.module.name

    ```python
    name(signature)              (or `class Name(Base)` for an exception,
    ```                           `NAME: type` for a constant)

    First line of the docstring (anything for a constant).

or, for a name that an earlier entry already documents::

    ### skfnn.module.name

    The same object as [`skfnn.name`](#anchor).
"""

import importlib
import inspect
import pkgutil
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

import skfnn

ROOT = Path(__file__).resolve().parents[1]
API_PAGE = ROOT / "docs" / "api.md"

#: The public modules, in the page's order; extend this to document a new module.
PUBLIC_MODULES = ("skfnn", "skfnn.activations", "skfnn.losses", "skfnn.schedules",
                  "skfnn.gradcheck",
                  "skfnn.exceptions", "skfnn.plotting", "skfnn.onnx", "skfnn.io")
#: Modules without a leading underscore that are not public API (not on the page).
INTERNAL_MODULES = ("skfnn.optimizers",)

ALIAS = re.compile(r"^The same object as \[?`([\w.]+)`\]?")
CODE_BLOCK = re.compile(r"^```python\n(.*?)^```\n", re.M | re.S)


@dataclass
class Entry:
    section: str  # the ## module heading the entry sits under
    body: str

    @property
    def alias(self):
        match = ALIAS.match(self.body.strip())
        return match.group(1) if match else None

    @property
    def signature(self):
        match = CODE_BLOCK.search(self.body)
        return " ".join(match.group(1).split()) if match else None

    @property
    def summary(self):
        match = CODE_BLOCK.search(self.body)
        rest = self.body[match.end():] if match else ""
        return " ".join(rest.strip().split("\n\n")[0].split())


def parse(text):
    """{qualified name: Entry} and the module sections, in order, of an API page."""
    entries, sections, section = {}, [], None
    for block in re.split(r"^(?=#{2,3} )", text, flags=re.M):
        heading, _, body = block.partition("\n")
        if heading.startswith("## "):
            section = heading[3:].strip()
            sections.append(section)
        elif heading.startswith("### "):
            name = heading[4:].strip().strip("`")
            assert name not in entries, f"docs/api.md: two entries for {name}"
            entries[name] = Entry(section, body)
    return entries, sections


def public_names():
    """The qualified name of everything in the public modules' ``__all__``."""
    return [f"{module}.{name}" for module in PUBLIC_MODULES
            for name in importlib.import_module(module).__all__]


def resolve(qualified_name):
    module, _, name = qualified_name.rpartition(".")
    return getattr(importlib.import_module(module), name)


def expected_signature(name, obj):
    """What the entry's code block says, as inspect sees the object."""
    if isinstance(obj, type) and issubclass(obj, BaseException):
        return f"class {name}({', '.join(base.__name__ for base in obj.__bases__)})"
    if callable(obj):
        return name + str(inspect.signature(obj))
    return f"{name}: {type(obj).__name__}"


def expected_summary(obj):
    """The docstring's first line, its reST roles and literals turned into Markdown."""
    line = inspect.getdoc(obj).splitlines()[0]
    line = re.sub(r":(?:class|func|meth|attr|mod):`~?([^`]+)`", r"`\1`", line)
    return line.replace("``", "`")


def entry_problems(name, entry, entries):
    """Why one entry of the page does not describe the public object ``name``."""
    obj = resolve(name)
    problems = []
    if entry.section != name.rpartition(".")[0]:
        problems.append(f"{name} sits under '## {entry.section}'")
    if entry.alias is not None:
        target = entries.get(entry.alias)
        if target is None or target.alias is not None:
            problems.append(f"{name} points to {entry.alias}, which has no full entry")
        elif resolve(entry.alias) is not obj:
            problems.append(f"{name} is not the same object as {entry.alias}")
        return problems
    expected = expected_signature(name.rpartition(".")[2], obj)
    if entry.signature != expected:
        problems.append(f"{name}: signature {entry.signature!r}, expected {expected!r}")
    if not callable(obj):
        if not entry.summary:
            problems.append(f"{name}: no summary")
    elif entry.summary != expected_summary(obj):
        problems.append(f"{name}: summary {entry.summary!r}, expected "
                        f"{expected_summary(obj)!r} (the docstring's first line)")
    return problems


def page_problems(text):
    """Everything wrong with an API page, as sentences (empty when it is right)."""
    entries, sections = parse(text)
    public = public_names()
    problems = [f"{name} has no entry" for name in public if name not in entries]
    problems += [f"{name} has an entry but is not public" for name in entries
                 if name not in public]
    if sections != list(PUBLIC_MODULES):
        problems.append(f"module sections {sections}, expected {list(PUBLIC_MODULES)}")
    for name in public:
        if name in entries:
            problems += entry_problems(name, entries[name], entries)
    return problems


PAGE = API_PAGE.read_text(encoding="utf-8")


def test_the_page_lists_every_public_name_with_its_signature_and_summary():
    assert page_problems(PAGE) == []


def test_every_module_is_public_or_internal():
    """A new module without a leading underscore must be documented or declared
    internal, so that its public names cannot be left off the page unnoticed."""
    modules = {f"skfnn.{info.name}" for info in pkgutil.iter_modules(skfnn.__path__)
               if not info.name.startswith("_")}
    assert modules == set(PUBLIC_MODULES[1:]) | set(INTERNAL_MODULES)


def _without_entry(text, name):
    """The page with the entry of ``name`` removed."""
    start = text.index(f"### {name}\n")
    end = text.find("\n#", start + 1) + 1 or len(text)
    return text[:start] + text[end:]


@pytest.mark.parametrize("name", ["skfnn.FNNClassifier", "skfnn.losses.LOSSES",
                                  "skfnn.gradcheck.check_loss"])
def test_a_missing_entry_is_reported(name):
    assert page_problems(_without_entry(PAGE, name)) == [f"{name} has no entry"]


def test_a_stale_signature_or_summary_is_reported():
    stale = PAGE.replace("ELU(alpha=1.0)", "ELU(alpha=2.0)").replace(
        "Identity()\n```\n\nσ(z) = z,", "Identity()\n```\n\nσ(z) = z (stale),")
    problems = page_problems(stale)
    assert len(problems) == 2
    assert problems[0].startswith("skfnn.activations.ELU: signature 'ELU(alpha=2.0)'")
    assert problems[1].startswith("skfnn.activations.Identity: summary")


def test_an_entry_for_a_private_name_or_a_wrong_alias_is_reported():
    extra = PAGE + "\n### skfnn.losses._private\n\nNot public.\n"
    assert page_problems(extra) == ["skfnn.losses._private has an entry but is not public"]
    wrong = PAGE.replace("The same object as [`skfnn.Loss`]",
                         "The same object as [`skfnn.Activation`]")
    assert page_problems(wrong) == ["skfnn.losses.Loss is not the same object as "
                                    "skfnn.Activation"]


def test_a_name_added_to_a_modules_all_is_reported(monkeypatch):
    import skfnn.losses

    def huber_like(y, a):
        """A new public function."""

    monkeypatch.setattr(skfnn.losses, "huber_like", huber_like, raising=False)
    monkeypatch.setattr(skfnn.losses, "__all__", [*skfnn.losses.__all__, "huber_like"])
    assert page_problems(PAGE) == ["skfnn.losses.huber_like has no entry"]
