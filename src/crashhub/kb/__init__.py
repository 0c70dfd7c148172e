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
from crashhub.kernel import parse_release, vercmp

__all__ = [
    "KINDS",
    "MATCH_ALGORITHM",
    "SCHEMA_ID",
    "Command",
    "KbEntry",
    "KbMatch",
    "KbText",
    "ReleaseRange",
    "Rule",
    "check_paths",
    "dump_entry",
    "entry_from_data",
    "load_dir",
    "load_examples",
    "load_starter",
    "match",
    "match_entry",
    "parse_entry",
    "parse_release",
    "vercmp",
    "would_match",
]
