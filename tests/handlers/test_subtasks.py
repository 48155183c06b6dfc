"""Deriving subtask summaries from ADF and plain-text descriptions."""

from __future__ import annotations

from handlers.subtasks import MAX_SUBTASKS, MAX_SUMMARY_CHARS, derive_subtasks
from tests.examples import load_event


def text(value: str) -> dict:
    return {"type": "text", "text": value}


def paragraph(value: str) -> dict:
    return {"type": "paragraph", "content": [text(value)]}


def bullets(*items: str, nested: dict | None = None) -> dict:
    list_items = [{"type": "listItem", "content": [paragraph(item)]} for item in items]
    if nested is not None:
        list_items[0]["content"].append(nested)
    return {"type": "bulletList", "content": list_items}


def doc(*content: dict) -> dict:
    return {"type": "doc", "version": 1, "content": list(content)}


def test_adf_acceptance_criteria_items_only() -> None:
    description = doc(
        bullets("Background item"),
        {"type": "heading", "attrs": {"level": 3}, "content": [text("Acceptance Criteria")]},
        bullets("First", "Second"),
        {"type": "heading", "attrs": {"level": 3}, "content": [text("Out of scope")]},
        bullets("Not this"),
    )
    assert derive_subtasks(description) == ["First", "Second"]


def test_adf_without_marker_takes_all_items() -> None:
    description = doc(paragraph("Intro"), bullets("One", "Two"), {"type": "orderedList", "content": [
        {"type": "listItem", "content": [paragraph("Three")]}]})
    assert derive_subtasks(description) == ["One", "Two", "Three"]


def test_adf_nested_list_excluded() -> None:
    description = doc(bullets("Parent", "Sibling", nested=bullets("Child")))
    assert derive_subtasks(description) == ["Parent", "Sibling"]


def test_bundled_epic_description() -> None:
    epic = load_event("epic_created_direct.json")
    assert derive_subtasks(epic["issue"]["fields"]["description"]) == [
        "Load active prescriptions from the pharmacy service",
        "Flag duplicate and conflicting medications",
        "Show the reconciled list on the discharge screen",
    ]


def test_plain_text_marker_paragraph() -> None:
    description = (
        "Context line\n- ignored\nAcceptance criteria:\n- Alpha\n* Beta\n1. Gamma\n  - nested\n# Notes\n- Delta"
    )
    assert derive_subtasks(description) == ["Alpha", "Beta", "Gamma"]


def test_plain_text_without_items() -> None:
    assert derive_subtasks("Just a paragraph.\nAnother one.") == []


def test_duplicates_whitespace_and_length() -> None:
    long_item = "x" * (MAX_SUMMARY_CHARS + 50)
    description = f"- Same  item\n- same item\n-   \n- {long_item}"
    assert derive_subtasks(description) == ["Same item", "x" * MAX_SUMMARY_CHARS]


def test_subtask_count_capped() -> None:
    description = "\n".join(f"- Item {number}" for number in range(MAX_SUBTASKS + 10))
    assert len(derive_subtasks(description)) == MAX_SUBTASKS


def test_missing_or_odd_description() -> None:
    assert derive_subtasks(None) == []
    assert derive_subtasks(42) == []
    assert derive_subtasks({"type": "doc", "content": "not a list"}) == []
