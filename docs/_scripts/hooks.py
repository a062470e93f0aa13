"""MkDocs hooks (mkdocs.yml, ``hooks:``): root files included into the site's pages.

A page whose line reads ``--8<-- "CHANGELOG.md"`` gets that file of the repository
root in its place. Its links are written for GitHub, relative to the root: a link into
docs/ is made relative to the site's pages, and a link to any other file of the
repository points at that file on GitHub, so that both renderings resolve.
"""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
REPOSITORY = "https://github.com/skfnn/skfnn/blob/main/"
INCLUDE = re.compile(r'^--8<-- "([^"]+)"\s*$', re.M)
# A Markdown link's target: ](target) or ](target#anchor), not a URL or a bare anchor.
LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


def _site_link(match):
    target = match.group(1)
    if target.startswith("docs/"):
        return f"]({target.removeprefix('docs/')})"
    return f"]({REPOSITORY}{target})"


def _include(match):
    text = (ROOT / match.group(1)).read_text(encoding="utf-8")
    return LINK.sub(_site_link, text)


def on_page_markdown(markdown, **kwargs):
    return INCLUDE.sub(_include, markdown)
