"""A small HTML tree from the standard library's parser, for tests that read a page as a browser would.

`parse` refuses a page whose elements do not nest (an end tag that closes another element, an
element never closed), so a test that parses a page also checks that it is well formed. Void
elements (`<meta>`, `<br>`) have no end tag; SVG's `<line/>` closes itself.

`references` lists every place a page could load something from: src, href, xlink:href, action,
srcset, poster, data and formaction attributes, and url(...) and @import in style attributes
and <style> elements. A self-contained page has none that leaves the page.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser

__all__ = ["Node", "leaves_the_page", "parse", "references"]

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
_URL_ATTRIBUTES = {"src", "href", "xlink:href", "action", "srcset", "poster", "data", "formaction", "background"}
_CSS_URL = re.compile(r"url\(\s*['\"]?([^'\")]*)|@import\s+['\"]([^'\"]*)", re.IGNORECASE)


@dataclass(eq=False)
class Node:
    tag: str
    attrs: dict[str, str | None] = field(default_factory=dict)
    children: list[Node | str] = field(default_factory=list)

    def iter(self) -> Iterator[Node]:
        yield self
        for child in self.children:
            if isinstance(child, Node):
                yield from child.iter()

    def find_all(self, tag: str | None = None, **attrs: str) -> list[Node]:
        """Elements here and below, by tag and exact attribute values (`data_testid` for data-testid)."""
        wanted = {name.replace("_", "-"): value for name, value in attrs.items()}
        return [
            node
            for node in self.iter()
            if (tag is None or node.tag == tag) and all(node.attrs.get(k) == v for k, v in wanted.items())
        ]

    def find(self, tag: str | None = None, **attrs: str) -> Node:
        found = self.find_all(tag, **attrs)
        assert found, f"no <{tag or '*'}> with {attrs}"
        return found[0]

    def text(self) -> str:
        return "".join(child if isinstance(child, str) else child.text() for child in self.children)

    def classes(self) -> list[str]:
        return (self.attrs.get("class") or "").split()


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Node("#document")
        self.stack = [self.root]
        self.doctype: str | None = None
        self.problems: list[str] = []

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        node = Node(tag, dict(attrs))
        if len(dict(attrs)) != len(attrs):
            self.problems.append(f"<{tag}> repeats an attribute")
        self.stack[-1].children.append(node)
        if tag not in VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(Node(tag, dict(attrs)))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        if self.stack[-1].tag != tag:
            self.problems.append(f"</{tag}> closes <{self.stack[-1].tag}>")
            return
        self.stack.pop()

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def parse(page: str) -> tuple[Node, str | None]:
    """The page's tree and its doctype; AssertionError when its elements do not nest."""
    builder = _Builder()
    builder.feed(page)
    builder.close()
    unclosed = [node.tag for node in builder.stack[1:]]
    assert not builder.problems and not unclosed, (builder.problems, unclosed)
    ids = [node.attrs["id"] for node in builder.root.iter() if node.attrs.get("id")]
    assert len(ids) == len(set(ids)), f"ids used twice: {sorted(i for i in ids if ids.count(i) > 1)}"
    return builder.root, builder.doctype


def references(root: Node) -> list[str]:
    """Every URL the page could load or follow, from attributes and CSS."""
    found = []
    for node in root.iter():
        for name, value in node.attrs.items():
            if value is None:
                continue
            if name in _URL_ATTRIBUTES:
                found.append(value)
            if name == "style":
                found += [a or b for a, b in _CSS_URL.findall(value)]
        if node.tag == "style":
            found += [a or b for a, b in _CSS_URL.findall(node.text())]
    return found


def leaves_the_page(url: str) -> bool:
    """A reference that reaches outside the file: any scheme but a fragment, or a protocol-relative //host."""
    url = url.strip()
    return not url.startswith("#")
