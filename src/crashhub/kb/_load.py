"""Knowledge-base files: one YAML file per entry, validated with file, line and field in every error.

The YAML is composed into nodes (``yaml.compose``) rather than loaded, so every value keeps its
line; the tree is then turned into plain data by a bounded walk (an alias bomb is an error, not an
hour of CPU) and validated by :func:`entry_from_data`, which the API's ``KbEntry.from_dict`` shares.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from crashhub.errors import KbError, PatternError
from crashhub.kb import _release as rel
from crashhub.kb._schema import (
    KINDS,
    MAX_LIST,
    MAX_PATTERN,
    MAX_TEXT,
    SCHEMA_IDS,
    STATUSES,
    TAINT_LETTERS,
    TEXT_FIELDS,
    TOOLS,
    Command,
    KbEntry,
    KbText,
    ReleaseRange,
    Rule,
    compiled,
)

# libyaml's composer is ~5x faster and keeps node marks; the pure-Python one is the fallback.
_LOADER: type[yaml.SafeLoader] | type[yaml.CSafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
MAX_FILE = 256 * 1024
MAX_NODES = 5000
SUFFIXES = (".yaml", ".yml")
_ID = re.compile(r"[a-z0-9][a-z0-9._-]{0,79}")
_MODULE = re.compile(r"[A-Za-z0-9_-]{1,64}")
TOP_FIELDS = ("schema", "id", "title", "status", "generic", "match", "cause", "advice", "commands",
              "references", "zh")
MATCH_FIELDS = ("kinds", "title", "function", "frame", "modules", "loaded", "taint", "releases",
                "hardware")
RANGE_FIELDS = ("introduced_in", "fixed_in")
COMMAND_FIELDS = ("tool", "run", "why")


class _Tree:
    """Plain data from a YAML node tree, with the line of every field path and the raw scalars."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.lines: dict[str, int] = {}
        self.raw: dict[str, str] = {}  # plain scalars YAML would read as numbers ("6.10" → 6.1)
        self.nodes = 0
        self._constructor = yaml.constructor.SafeConstructor()

    def walk(self, node: yaml.Node, where: str) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            raise KbError(f"more than {MAX_NODES} YAML nodes (aliases?)", self.path,
                          node.start_mark.line + 1, where or None)
        if isinstance(node, yaml.MappingNode):
            out: dict[str, Any] = {}
            for knode, vnode in node.value:
                line = knode.start_mark.line + 1
                if not isinstance(knode, yaml.ScalarNode) or knode.tag != "tag:yaml.org,2002:str":
                    raise KbError("keys must be plain names", self.path, line, where or None)
                key = str(knode.value)
                sub = f"{where}.{key}" if where else key
                if key in out:
                    raise KbError("field given twice", self.path, line, sub)
                self.lines[sub] = line
                out[key] = self.walk(vnode, sub)
            return out
        if isinstance(node, yaml.SequenceNode):
            items = []
            for i, item in enumerate(node.value):
                sub = f"{where}[{i}]"
                self.lines[sub] = item.start_mark.line + 1
                items.append(self.walk(item, sub))
            return items
        value = self._constructor.construct_object(node, deep=True)
        # Plain style is None in PyYAML's composer and "" in libyaml's.
        plain = isinstance(node, yaml.ScalarNode) and not node.style
        if isinstance(value, (int, float)) and not isinstance(value, bool) and plain:
            self.raw[where] = str(node.value)
        return value


class _Check:
    """Field validation with errors that name file, line and field."""

    def __init__(self, path: str, lines: dict[str, int], raw: dict[str, str]) -> None:
        self.path, self.lines, self.raw = path, lines, raw

    def fail(self, field: str, message: str) -> KbError:
        # A field given with a default has no line: report its parent's (the enclosing mapping).
        line, up = self.lines.get(field), field
        while line is None and self.lines:
            parent = re.sub(r"(\.[^.\[]+|\[\d+\])$", "", up)
            if parent == up:
                break
            up = parent
            line = self.lines.get(up)
        return KbError(message, self.path, line, field or None)

    def mapping(self, v: Any, field: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(v, dict):
            raise self.fail(field, f"expected a mapping, got {_tname(v)}")
        for k in v:
            if k not in allowed:
                near = f"{field}.{k}" if field else str(k)
                raise self.fail(near, f"unknown field {k!r} (known: {', '.join(allowed)})")
        return v

    def string(self, v: Any, field: str, *, limit: int = 300, empty: bool = False) -> str:
        if not isinstance(v, str):
            raise self.fail(field, f"expected a string, got {_tname(v)}")
        if not empty and not v.strip():
            raise self.fail(field, "must not be empty")
        if len(v) > limit:
            raise self.fail(field, f"longer than {limit} characters")
        return v

    def version(self, v: Any, field: str) -> str:
        if field in self.raw:  # "6.10" read as a YAML float would become 6.1
            v = self.raw[field]
        s = self.string(v, field, limit=rel.MAX_RELEASE_LEN)
        if rel.bound_series(s) == "unknown":
            raise self.fail(field, f"{s!r} is not a kernel release or upstream version")
        return s.strip()

    def regex(self, v: Any, field: str) -> str:
        s = self.string(v, field, limit=MAX_PATTERN)
        try:
            compiled(s)
        except PatternError as e:
            raise self.fail(field, f"bad regex {s!r}: {e}") from None
        return s

    def strings(self, v: Any, field: str) -> list[tuple[str, str]]:
        """A list of strings (a single string is a list of one): (field path, value) pairs."""
        if isinstance(v, str):
            return [(field, v)]
        if not isinstance(v, list):
            raise self.fail(field, f"expected a list, got {_tname(v)}")
        if len(v) > MAX_LIST:
            raise self.fail(field, f"more than {MAX_LIST} items")
        return [(f"{field}[{i}]", self.string(x, f"{field}[{i}]", limit=500)) for i, x in enumerate(v)]


def _tname(v: Any) -> str:
    return {dict: "a mapping", list: "a list", str: "a string", bool: "a boolean", int: "a number",
            float: "a number", type(None): "nothing"}.get(type(v), type(v).__name__)


def _rule(c: _Check, m: Any) -> Rule:
    m = c.mapping(m, "match", MATCH_FIELDS)
    kinds = []
    for f, k in c.strings(m.get("kinds", []), "match.kinds"):
        if k not in KINDS:
            raise c.fail(f, f"unknown kind {k!r} (known: {', '.join(KINDS)})")
        kinds.append(k)
    mods: dict[str, list[str]] = {"modules": [], "loaded": []}
    for name, out in mods.items():
        for f, mod in c.strings(m.get(name, []), f"match.{name}"):
            if not _MODULE.fullmatch(mod):
                raise c.fail(f, f"{mod!r} is not a module name")
            out.append(mod)
    taint = ""
    if "taint" in m:
        taint = c.string(m["taint"], "match.taint", limit=len(TAINT_LETTERS))
        bad = sorted(set(taint) - set(TAINT_LETTERS))
        if bad:
            raise c.fail("match.taint", f"unknown taint letter(s) {''.join(bad)} (known: {TAINT_LETTERS})")
        if len(set(taint)) != len(taint):
            raise c.fail("match.taint", "a taint letter is given twice")
    regexes = {n: c.regex(m[n], f"match.{n}") if n in m else None
               for n in ("title", "function", "frame", "hardware")}
    ranges = []
    if "releases" in m:
        rs = m["releases"]
        if not isinstance(rs, list) or not rs:
            raise c.fail("match.releases", "expected a non-empty list of ranges")
        if len(rs) > MAX_LIST:
            raise c.fail("match.releases", f"more than {MAX_LIST} ranges")
        for i, r in enumerate(rs):
            ranges.append(_range(c, r, f"match.releases[{i}]"))
    rule = Rule(kinds=tuple(kinds), title=regexes["title"], function=regexes["function"],
                frame=regexes["frame"], modules=tuple(mods["modules"]), loaded=tuple(mods["loaded"]),
                taint=taint, releases=tuple(ranges), hardware=regexes["hardware"])
    if rule.is_empty():
        raise c.fail("match", "no rule given: the entry would match every crash")
    return rule


def _range(c: _Check, r: Any, field: str) -> ReleaseRange:
    r = c.mapping(r, field, RANGE_FIELDS)
    lo = c.version(r["introduced_in"], f"{field}.introduced_in") if "introduced_in" in r else None
    hi = c.version(r["fixed_in"], f"{field}.fixed_in") if "fixed_in" in r else None
    if lo is None and hi is None:
        raise c.fail(field, "a range needs introduced_in, fixed_in or both")
    if lo is not None and hi is not None:
        if rel.bound_series(lo) != rel.bound_series(hi):
            raise c.fail(field, f"introduced_in {lo!r} and fixed_in {hi!r} are from different series "
                                f"({rel.bound_series(lo)}, {rel.bound_series(hi)}): write one range each")
        a, b = rel.parse_release(lo), rel.parse_release(hi)
        if rel.vercmp(a.upstream or a.key, b.upstream or b.key) >= 0:
            raise c.fail(field, f"introduced_in {lo!r} is not before fixed_in {hi!r}")
    return ReleaseRange(lo, hi)


def _command(c: _Check, v: Any, field: str) -> Command:
    v = c.mapping(v, field, COMMAND_FIELDS)
    for need in ("tool", "run"):
        if need not in v:
            raise c.fail(field, f"a command needs {need!r}")
    tool = c.string(v["tool"], f"{field}.tool")
    if tool not in TOOLS:
        raise c.fail(f"{field}.tool", f"unknown tool {tool!r} (known: {', '.join(TOOLS)})")
    why = c.string(v["why"], f"{field}.why", limit=1000, empty=True) if "why" in v else ""
    return Command(tool, c.string(v["run"], f"{field}.run", limit=2000), why)


def entry_from_data(data: Any, path: str, lines: dict[str, int],
                    raw: dict[str, str] | None = None) -> KbEntry:
    """Validate one entry's data (from YAML or the API) into a :class:`KbEntry`."""
    c = _Check(path, lines, raw or {})
    d = c.mapping(data, "", TOP_FIELDS)
    for need in ("id", "title", "match"):
        if need not in d:
            raise KbError(f"required field {need!r} is missing", path, 1 if lines else None, need)
    schema = c.string(d.get("schema", SCHEMA_IDS[0]), "schema")
    if schema not in SCHEMA_IDS:
        raise c.fail("schema", f"unknown schema {schema!r} (this crashhub reads {', '.join(SCHEMA_IDS)})")
    id_ = c.string(d["id"], "id", limit=80)
    if not _ID.fullmatch(id_):
        raise c.fail("id", f"{id_!r}: use lower-case letters, digits, '.', '_' and '-' (at most 80)")
    status = c.string(d.get("status", "known"), "status")
    if status not in STATUSES:
        raise c.fail("status", f"unknown status {status!r} (known: {', '.join(STATUSES)})")
    generic = d.get("generic", False)
    if not isinstance(generic, bool):
        raise c.fail("generic", f"expected true or false, got {_tname(generic)}")
    commands = d.get("commands", [])
    if not isinstance(commands, list) or len(commands) > MAX_LIST:
        raise c.fail("commands", f"expected a list of at most {MAX_LIST} commands")
    refs = [s for _, s in c.strings(d.get("references", []), "references")]
    return KbEntry(
        id=id_,
        title=c.string(d["title"], "title"),
        rule=_rule(c, d["match"]),
        status=status,
        generic=generic,
        cause=c.string(d.get("cause", ""), "cause", limit=MAX_TEXT, empty=True),
        advice=c.string(d.get("advice", ""), "advice", limit=MAX_TEXT, empty=True),
        references=tuple(refs),
        commands=tuple(_command(c, x, f"commands[{i}]") for i, x in enumerate(commands)),
        schema=schema,
        path=path,
        zh=_text(c, d["zh"], "zh", len(commands)) if "zh" in d else None,
    )


def _text(c: _Check, v: Any, field: str, commands: int) -> KbText:
    """A translation block: the English text fields, each optional, with the same limits, and one
    ``why`` per command when given."""
    t = c.mapping(v, field, (*TEXT_FIELDS, "why"))
    why = [s for _, s in c.strings(t.get("why", []), f"{field}.why")]
    if why and len(why) != commands:
        raise c.fail(f"{field}.why", f"{len(why)} items for {commands} commands: give one per command")
    return KbText(
        title=c.string(t.get("title", ""), f"{field}.title", empty=True),
        cause=c.string(t.get("cause", ""), f"{field}.cause", limit=MAX_TEXT, empty=True),
        advice=c.string(t.get("advice", ""), f"{field}.advice", limit=MAX_TEXT, empty=True),
        why=tuple(why),
    )


def parse_entry(text: str, path: str) -> KbEntry:
    """Parse and validate one entry's YAML text; ``path`` names it in errors."""
    if len(text) > MAX_FILE:
        raise KbError(f"larger than {MAX_FILE} bytes", path)
    try:
        node = yaml.compose(text, Loader=_LOADER)
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark is not None else None
        raise KbError(f"not valid YAML: {e.problem or e.context}", path, line) from None
    except yaml.YAMLError as e:
        raise KbError(f"not valid YAML: {e}", path) from None
    if node is None:
        raise KbError("empty file", path, 1)
    if not isinstance(node, yaml.MappingNode):
        raise KbError("an entry is a mapping of fields", path, node.start_mark.line + 1)
    tree = _Tree(path)
    try:
        data = tree.walk(node, "")
    except yaml.MarkedYAMLError as e:  # a tag the safe constructor refuses (!!python/..., bad dates)
        mark = e.problem_mark or e.context_mark
        raise KbError(f"not valid YAML: {e.problem or e.context}", path,
                      mark.line + 1 if mark is not None else None) from None
    return entry_from_data(data, path, tree.lines, tree.raw)


def _read(path: Path) -> str:
    try:
        with path.open("rb") as f:
            data = f.read(MAX_FILE + 1)
    except OSError as e:
        raise KbError(f"cannot read: {e.strerror}", path) from None
    if len(data) > MAX_FILE:
        raise KbError(f"larger than {MAX_FILE} bytes", path)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise KbError(f"not UTF-8 (byte {e.start})", path) from None


def entry_files(path: Path) -> list[Path]:
    """The entry files of a directory in name order (or the file itself)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise KbError("no such knowledge-base directory or file", path)
    return sorted(p for p in path.iterdir() if p.suffix in SUFFIXES and p.is_file()
                  and not p.name.startswith("."))


def check_paths(paths: Iterable[Path]) -> tuple[list[KbEntry], list[KbError]]:
    """Load every entry under ``paths``; collect every problem instead of stopping at the first.

    Besides each file's own validation: the id must equal the file's name (``<id>.yaml``) so an id
    is found without reading the directory, and an id may appear once across all the paths.
    """
    entries: list[KbEntry] = []
    errors: list[KbError] = []
    seen: dict[str, str] = {}
    for p in paths:
        try:
            files = entry_files(p)
        except KbError as e:
            errors.append(e)
            continue
        for f in files:
            try:
                entry = parse_entry(_read(f), str(f))
            except KbError as err:
                errors.append(err)
                continue
            if f.stem != entry.id:
                errors.append(KbError(f"id {entry.id!r} does not match the file name {f.name!r}",
                                      f, _id_line(f), "id"))
                continue
            if entry.id in seen:
                errors.append(KbError(f"id {entry.id!r} is also defined in {seen[entry.id]}",
                                      f, _id_line(f), "id"))
                continue
            seen[entry.id] = str(f)
            entries.append(entry)
    return entries, errors


def _id_line(f: Path) -> int | None:
    try:
        for i, line in enumerate(_read(f).splitlines(), 1):
            if line.startswith("id:"):
                return i
    except KbError:
        pass
    return None


def load_dir(path: Path) -> list[KbEntry]:
    """Every entry of a knowledge-base directory, in file-name order; the first problem raises."""
    entries, errors = check_paths([Path(path)])
    if errors:
        raise errors[0]
    return entries


def _packaged(folder: str) -> list[KbEntry]:
    root = resources.files("crashhub.kb").joinpath(folder)
    out = []
    for item in sorted(root.iterdir(), key=lambda t: t.name):
        if item.name.endswith(SUFFIXES):
            out.append(parse_entry(item.read_text(encoding="utf-8"), f"crashhub/kb/{folder}/{item.name}"))
    return out


def load_starter() -> list[KbEntry]:
    """The generic starter entries shipped in the package (one per crash kind)."""
    return _packaged("starter")


def load_examples() -> list[KbEntry]:
    """The specific example entries shipped in the package (they match the crash lab's crashes)."""
    return _packaged("examples")


class _Dumper(yaml.SafeDumper):
    pass


_YAML_BREAKS = ("\r", "\x85", "\u2028", "\u2029", "\ufeff")


def _str(dumper: yaml.SafeDumper, s: str) -> yaml.ScalarNode:
    # Text is written as literal blocks (readable diffs in git), except where YAML would read a
    # character back as a different one: only double quotes escape NEL, LS/PS, CR and the BOM.
    style = '"' if any(c in s for c in _YAML_BREAKS) else "|" if "\n" in s else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", s, style=style)


_Dumper.add_representer(str, _str)


def dump_entry(entry: KbEntry) -> str:
    """The entry as YAML; ``parse_entry(dump_entry(e), p) == e``."""
    return yaml.dump(entry.to_dict(), Dumper=_Dumper, sort_keys=False, allow_unicode=True, width=100)
