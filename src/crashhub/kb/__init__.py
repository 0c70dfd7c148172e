"""The knowledge base: known issues as YAML files, matched against crash reports.

``load_dir``/``parse_entry`` read and validate entries (errors name file, line and field),
``match`` explains which rules of which entries a report meets, ``load_starter`` gives the
generic entries shipped with crashhub (one per crash kind).  See docs/kb.md.
"""

from crashhub.kb._load import (
    check_paths,
    dump_entry,
    entry_from_data,
    load_dir,
    load_examples,
    load_starter,
    parse_entry,
)
from crashhub.kb._match import match, match_entry, would_match
from crashhub.kb._schema import (
    KINDS,
    MATCH_ALGORITHM,
    SCHEMA_ID,
    Command,
    KbEntry,
    KbMatch,
    KbText,
    ReleaseRange,
    Rule,
)
from crashhub.kb._view import ANSWERS, Answer, KbView, answer_of, kb_view, match_answer, match_json, view_of
from crashhub.kernel import parse_release, vercmp

__all__ = [
    "ANSWERS",
    "KINDS",
    "MATCH_ALGORITHM",
    "SCHEMA_ID",
    "Answer",
    "Command",
    "KbEntry",
    "KbMatch",
    "KbText",
    "KbView",
    "ReleaseRange",
    "Rule",
    "answer_of",
    "check_paths",
    "dump_entry",
    "entry_from_data",
    "kb_view",
    "load_dir",
    "load_examples",
    "load_starter",
    "match",
    "match_answer",
    "match_entry",
    "match_json",
    "parse_entry",
    "parse_release",
    "vercmp",
    "view_of",
    "would_match",
]
