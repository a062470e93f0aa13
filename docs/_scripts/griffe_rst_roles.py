"""A griffe extension for the site's API reference: Sphinx roles become links.

skfnn's docstrings are numpydoc, written for Sphinx: ``:class:`~skfnn.losses.Loss```,
``:func:`check_gradients```, ``:meth:`TrainingCurveDisplay.from_estimator```.
mkdocstrings renders docstrings as Markdown, where such a role would show verbatim.
This extension rewrites each role before the docstring is parsed:

- a public skfnn name (one in the ``__all__`` of a public module, or a member of
  one) becomes an autorefs link to the page that documents it, so that a wrong
  name fails ``mkdocs build --strict``;
- a scikit-learn name becomes a link to its page on scikit-learn's site, by URL:
  scikit-learn's ``objects.inv`` cannot be fetched by an offline build;
- anything else (a private helper, numpy) becomes inline code.

It also drops the special members (``__doc__``, ``__module__``...) that dynamic
analysis lists in classes.

Loaded by mkdocs.yml (``extensions:`` of the python handler); it imports skfnn.
"""

import importlib
import importlib.util
import re

import griffe

# The modules whose __all__ the API reference documents, the root last: a name that
# the root re-exports is documented (and linked) in its own module's page.
PUBLIC_MODULES = ("skfnn.activations", "skfnn.losses", "skfnn.gradcheck", "skfnn.io",
                  "skfnn.onnx", "skfnn.plotting", "skfnn.exceptions", "skfnn.model_selection",
                  "skfnn")
SKLEARN_DOCS = "https://scikit-learn.org/stable/"
DUNDER = re.compile(r"^__(?!init__$|call__$)\w+__$")  # not __init__, __call__
ROLE = re.compile(r":(?:py:)?(class|func|meth|attr|data|mod|obj|exc):`(~?)([\w.]+)(?:\(\))?`")


def _documented():
    """Map each public object's canonical dotted path to the path it is documented at."""
    paths = {}
    for module_name in PUBLIC_MODULES:
        module = importlib.import_module(module_name)
        for name in module.__all__:
            public = f"{module_name}.{name}"
            obj = getattr(module, name)
            canonical = getattr(obj, "__module__", module_name) + "." + getattr(
                obj, "__qualname__", name)
            paths.setdefault(public, public)
            if callable(obj):
                paths.setdefault(canonical, public)
    return paths


def _sklearn_url(path):
    """The page of a scikit-learn object on scikit-learn's site, or None."""
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        module = ".".join(parts[:n])
        try:
            found = importlib.util.find_spec(module) is not None
        except (ImportError, ValueError):
            found = False
        if found:
            break
    else:
        return None
    if n == len(parts):
        return f"{SKLEARN_DOCS}api/{module}.html"
    page = ".".join(parts[: n + 1])
    return f"{SKLEARN_DOCS}modules/generated/{page}.html#{path}"


def _runtime_object(path):
    """The object that the dotted ``path`` names once imported, or None."""
    if not path:  # the parent of a bare word, such as a top-level module's
        return None
    parts = path.split(".")
    for n in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:n]))
        except ImportError:
            continue
        for attribute in parts[n:]:
            obj = getattr(obj, attribute, None)
            if obj is None:
                return None
        return obj
    return None


class RstRoles(griffe.Extension):
    """Rewrite the Sphinx roles of every docstring of the package (see the module)."""

    def __init__(self):
        super().__init__()
        self.documented = _documented()

    def on_package(self, *, pkg, **kwargs):
        self._rewrite(pkg)

    def _rewrite(self, obj):
        if obj.docstring is not None:
            obj.docstring.value = ROLE.sub(lambda m: self._link(obj, m), obj.docstring.value)
        if obj.is_class:
            # Dynamic analysis (the estimators' docstrings are assembled at import time)
            # also finds __doc__, __module__, __annotations__: not API.
            for name in [name for name in obj.members if DUNDER.match(name)]:
                del obj.members[name]
        for member in obj.members.values():
            if not member.is_alias:
                self._rewrite(member)

    def _resolve(self, obj, target):
        """The documented path of what ``target`` names, seen from ``obj``, or None."""
        scopes = [obj.path, obj.parent.path if obj.parent else "", obj.module.path, "skfnn"]
        for candidate in [target] + [f"{scope}.{target}" for scope in scopes if scope]:
            if _runtime_object(candidate) is None:
                continue
            if candidate in self.documented:
                return self.documented[candidate]
            found = _runtime_object(candidate)
            canonical = f"{getattr(found, '__module__', '')}.{getattr(found, '__qualname__', '')}"
            if canonical in self.documented:
                return self.documented[canonical]
            head, _, member = candidate.rpartition(".")
            parent = _runtime_object(head)
            if isinstance(parent, type) and not member.startswith("_"):
                return self._member_path(parent, member)
        return None

    def _member_path(self, cls, member):
        """Where a method or attribute is documented: on the class that defines it
        with a docstring (members without one, and inherited ones, are not shown)."""
        for owner in cls.__mro__:
            if member in vars(owner):
                documented = self.documented.get(f"{owner.__module__}.{owner.__qualname__}")
                has_doc = getattr(vars(owner)[member], "__doc__", None) is not None
                return f"{documented}.{member}" if documented and has_doc else None
        return None

    def _link(self, obj, match):
        _role, tilde, target = match.groups()
        title = target.rpartition(".")[2] if tilde else target
        if target.startswith("sklearn."):
            url = _sklearn_url(target)
            return f"[`{title}`]({url})" if url else f"`{title}`"
        documented = self._resolve(obj, target)
        if documented is None or self._is_own_private(documented):
            return f"`{title}`"
        return f"[`{title}`][{documented}]"

    @staticmethod
    def _is_own_private(path):
        return any(part.startswith("_") for part in path.split("."))
