"""Deriving subtask summaries from an epic's description.

The rule, applied the same way to Atlassian Document Format (ADF) and to plain text:

1. Read the description as a sequence of headings, paragraphs and list items. Only top-level
   items of each list count; the text of a nested list stays out of its parent item.
2. If a heading or a paragraph reads "Acceptance criteria" (any case, an optional trailing
   colon), take the list items after it up to the next heading. Otherwise take every list item.
3. Collapse whitespace, drop empty items and case-insensitive duplicates, keep the order, cut
   each summary to 255 characters (Jira's summary limit) and keep at most 50 subtasks.

Plain-text list items are lines that start with `-`, `*`, `+`, `•`, or a number followed by
`.` or `)`; Markdown headings (`#`) count as headings. A description with no list items
yields no subtasks.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

MAX_SUMMARY_CHARS = 255
MAX_SUBTASKS = 50

_ACCEPTANCE_CRITERIA = re.compile(r"^acceptance\s+criteria\s*:?$", re.IGNORECASE)
_PLAIN_ITEM = re.compile(r"^\s*(?:[-*+\u2022]|\d{1,3}[.)])\s+(?P<text>.+)$")
_PLAIN_HEADING = re.compile(r"^\s*#{1,6}\s+(?P<text>.+)$")
_WHITESPACE = re.compile(r"\s+")

HEADING, PARAGRAPH, ITEM = "heading", "paragraph", "item"
_LIST_TYPES = ("bulletList", "orderedList")


def derive_subtasks(description: Any) -> list[str]:
    """Return subtask summaries from an ADF document, a plain-text string or None."""
    if isinstance(description, Mapping):
        blocks = list(_adf_blocks(description))
    elif isinstance(description, str):
        blocks = list(_plain_blocks(description))
    else:
        return []
    return _select(blocks)


def _select(blocks: list[tuple[str, str]]) -> list[str]:
    marker = next(
        (index for index, (kind, text) in enumerate(blocks)
         if kind in (HEADING, PARAGRAPH) and _ACCEPTANCE_CRITERIA.match(text)),
        None,
    )
    if marker is None:
        candidates = [text for kind, text in blocks if kind == ITEM]
    else:
        candidates = []
        for kind, text in blocks[marker + 1:]:
            if kind == HEADING:
                break
            if kind == ITEM:
                candidates.append(text)

    summaries: list[str] = []
    seen: set[str] = set()
    for text in candidates:
        summary = _WHITESPACE.sub(" ", text).strip()[:MAX_SUMMARY_CHARS].rstrip()
        if not summary or summary.casefold() in seen:
            continue
        seen.add(summary.casefold())
        summaries.append(summary)
        if len(summaries) == MAX_SUBTASKS:
            break
    return summaries


def _plain_blocks(text: str) -> Iterator[tuple[str, str]]:
    for line in text.splitlines():
        if not line.strip():
            continue
        heading = _PLAIN_HEADING.match(line)
        if heading:
            yield HEADING, heading.group("text").strip()
            continue
        item = _PLAIN_ITEM.match(line)
        if item and not line.startswith((" ", "\t")):
            yield ITEM, item.group("text")
        elif item:
            continue  # an indented item belongs to a nested list
        else:
            yield PARAGRAPH, line.strip()


def _adf_blocks(node: Mapping[str, Any], depth: int = 0) -> Iterator[tuple[str, str]]:
    # ADF nests at most a few levels; the bound keeps hostile input from recursing deeply.
    if depth > 32:
        return
    for child in _children(node):
        node_type = child.get("type")
        if node_type == "heading":
            yield HEADING, _adf_text(child)
        elif node_type == "paragraph":
            yield PARAGRAPH, _adf_text(child)
        elif node_type in _LIST_TYPES:
            for item in _children(child):
                if item.get("type") == "listItem":
                    text = " ".join(
                        _adf_text(part) for part in _children(item) if part.get("type") not in _LIST_TYPES
                    )
                    yield ITEM, text
        else:
            yield from _adf_blocks(child, depth + 1)


def _children(node: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    content = node.get("content")
    if not isinstance(content, list):
        return []
    return [child for child in content if isinstance(child, Mapping)]


def _adf_text(node: Mapping[str, Any], depth: int = 0) -> str:
    if depth > 32:
        return ""
    if node.get("type") == "text" and isinstance(node.get("text"), str):
        return node["text"]
    if node.get("type") == "hardBreak":
        return " "
    return "".join(_adf_text(child, depth + 1) for child in _children(node))
