"""Every relative link of the README and docs/ points at a file that exists, and at a heading
or anchor that exists in it, so moving or renaming a section cannot strand a reader."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted([ROOT / "README.md", ROOT / "CONTRIBUTING.md", *(ROOT / "docs").rglob("*.md")])
LINK = re.compile(r"\]\(([^)\s]+)\)")
FENCED = re.compile(r"^```.*?^```", re.MULTILINE | re.DOTALL)
# No link may leave the repository: a clone must hold everything its documents cite.
OUTSIDE: tuple[str, ...] = ()


def slug(heading: str) -> str:
    """GitHub's fragment id of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower().replace("`", ""))
    return text.replace(" ", "-")


def anchors(page: Path) -> set[str]:
    """The fragment ids a page offers: its headings and its explicit `<a id>` anchors."""
    text = FENCED.sub("", page.read_text())
    found = {slug(line.lstrip("#")) for line in text.splitlines() if line.startswith("#")}
    return found | set(re.findall(r'<a id="([^"]+)"></a>', text))


def links(page: Path) -> list[str]:
    """The relative links of a page, code blocks left out."""
    text = FENCED.sub("", page.read_text())
    return [t for t in LINK.findall(text) if not t.startswith(("http://", "https://", "mailto:"))]


def test_slugs_follow_github() -> None:
    assert slug("Consumer stuck, or a dead-letter loop") == "consumer-stuck-or-a-dead-letter-loop"
    assert slug("6. Read and verify the audit trail") == "6-read-and-verify-the-audit-trail"
    assert slug("`taskEvents`") == "taskevents"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_relative_links_resolve(page: Path) -> None:
    broken = []
    for target in links(page):
        if target.startswith(OUTSIDE):
            continue
        path_part, _, fragment = target.partition("#")
        destination = (page.parent / path_part).resolve() if path_part else page
        if not destination.exists():
            broken.append(f"{target}: no such file")
        elif fragment and destination.suffix == ".md" and fragment not in anchors(destination):
            broken.append(f"{target}: no such heading or anchor")
    assert broken == [], broken


def test_the_readme_links_every_document() -> None:
    readme = set(links(ROOT / "README.md"))
    for page in PAGES:
        if page.name != "README.md" and page.parent.name != "deploy":
            assert str(page.relative_to(ROOT)) in readme, f"README does not link {page.name}"


def test_the_readme_shows_the_web_app() -> None:
    # Screenshots the browser tests took (docs/screenshots/), resolved by the test above.
    shown = re.findall(
        r"!\[[^\]]+\]\((docs/screenshots/[^)]+\.png)\)", (ROOT / "README.md").read_text()
    )
    assert len(shown) >= 2, shown
