"""Rewrite the entries of docs/api.md from the public modules' ``__all__``.

A maintainer's tool: ``python .ci/update_api_page.py`` after adding or changing a
public name, then read the diff. It keeps the page's introduction, each module's
description and the hand-written text of constants; it writes every other entry
(signature and the docstring's first line) as tests/test_api_docs.py expects it.
New constants get a placeholder sentence to replace by hand.
"""

import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT))

import test_api_docs as spec  # noqa: E402  (the format, defined by the test)

WIDTH = 88


def _wrap_signature(text):
    """Break a long signature after commas, continuation lines indented by 4."""
    if len(text) <= WIDTH:
        return text
    lines, line = [], ""
    for piece in re.split(r"(?<=, )", text):
        if len(line) + len(piece) > WIDTH and line:
            lines.append(line.rstrip())
            line = "    "
        line += piece
    lines.append(line)
    return "\n".join(lines)


def _anchor(name):
    return "#" + re.sub(r"[^\w-]", "", name.lower())


def entry(name, obj, first_seen, old):
    short = name.rpartition(".")[2]
    if id(obj) in first_seen and not isinstance(obj, (str, int, float, tuple)):
        target = first_seen[id(obj)]
        return f"### {name}\n\nThe same object as [`{target}`]({_anchor(target)}).\n"
    first_seen.setdefault(id(obj), name)
    signature = _wrap_signature(spec.expected_signature(short, obj))
    if callable(obj):
        summary = spec.expected_summary(obj)
    else:
        previous = old.get(name)
        summary = previous.summary if previous is not None and previous.summary else \
            "(describe this constant)"
    return f"### {name}\n\n```python\n{signature}\n```\n\n{summary}\n"


def main():
    page = spec.API_PAGE.read_text(encoding="utf-8")
    old, _ = spec.parse(page)
    intro = page[: page.index("\n## ")]
    descriptions = {m.group(1): m.group(2).strip()
                    for m in re.finditer(r"^## (\S+)\n\n(.*?)\n\n", page, re.M | re.S)}
    first_seen = {}
    parts = [intro]
    for module in spec.PUBLIC_MODULES:
        mod = importlib.import_module(module)
        description = descriptions.get(module) or mod.__doc__.strip().splitlines()[0]
        parts.append(f"\n## {module}\n\n{description}\n")
        for name in mod.__all__:
            parts.append("\n" + entry(f"{module}.{name}", getattr(mod, name), first_seen, old))
    spec.API_PAGE.write_text("".join(parts), encoding="utf-8")
    problems = spec.page_problems(spec.API_PAGE.read_text(encoding="utf-8"))
    print("\n".join(problems) or "docs/api.md is complete and current")


if __name__ == "__main__":
    main()
