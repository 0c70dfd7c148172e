"""Mangled symbol names in kernel frames, read back into the names a reader and a bucket key want.

kallsyms prints symbols as linked.  C++ (Itanium ABI, ``_Z...``: out-of-tree modules built with a
C++ compiler, and Rust before its v0 mangling, ``_ZN4core9panicking5panic17h<hash>E``) and Rust v0
(``_R...``: every Rust symbol of Linux's Rust support since 6.1, ``-Csymbol-mangling-version=v0``)
come out mangled::

    _RNvXs1_CscPPBqWtAqum_11ashmem_rustNtB5_6AshmemNtNtCs43vyB533jt3_6kernel10miscdevice10MiscDevice4mmap
        -> <ashmem_rust::Ashmem as kernel::miscdevice::MiscDevice>::mmap
    _ZN7android6binder5Proxy4callEv -> android::binder::Proxy::call

A subset, enough for function names: the qualified name only (no parameter types), generic and
template arguments left out and crate disambiguators and Rust's legacy hashes dropped, so one
function has one name across builds: a stable base name, as ``base_name`` gives for C clones.
Anything it does not read comes back unchanged.  Grammars: the Itanium C++ ABI ("Mangling"),
rustc's v0 symbol-mangling RFC 2603.
"""

from __future__ import annotations

from crashhub import _regex
from crashhub.kernel._functions import SUFFIX_RE as _SUFFIX_RE

_BASE62 = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Rust v0 basic types (RFC 2603, "basic-type").
_RUST_BASIC = {
    "a": "i8", "b": "bool", "c": "char", "d": "f64", "e": "str", "f": "f32", "h": "u8", "i": "isize",
    "j": "usize", "l": "i32", "m": "u32", "n": "i128", "o": "u128", "s": "i16", "t": "u16", "u": "()",
    "v": "...", "x": "i64", "y": "u64", "z": "!", "p": "_",
}  # fmt: skip
# Rust's legacy (Itanium-shaped) escapes inside identifiers.
_LEGACY_ESCAPES = {
    "$LT$": "<", "$GT$": ">", "$RF$": "&", "$BP$": "*", "$C$": ",", "$SP$": "@", "$u20$": " ",
    "$u27$": "'", "$u5b$": "[", "$u5d$": "]", "$u7b$": "{", "$u7d$": "}", "$u7e$": "~",
}  # fmt: skip
_LEGACY_HASH_RE = _regex.compile(r"^h[0-9a-f]{16}$")
# Itanium operator codes (the ABI's <operator-name>), the common ones.
_OPERATORS = {
    "nw": "new", "na": "new[]", "dl": "delete", "da": "delete[]", "ps": "+", "ng": "-", "ad": "&",
    "de": "*", "co": "~", "pl": "+", "mi": "-", "ml": "*", "dv": "/", "rm": "%", "an": "&", "or": "|",
    "eo": "^", "aS": "=", "pL": "+=", "mI": "-=", "mL": "*=", "dV": "/=", "rM": "%=", "aN": "&=",
    "oR": "|=", "eO": "^=", "ls": "<<", "rs": ">>", "lS": "<<=", "rS": ">>=", "eq": "==", "ne": "!=",
    "lt": "<", "gt": ">", "le": "<=", "ge": ">=", "ss": "<=>", "nt": "!", "aa": "&&", "oo": "||",
    "pp": "++", "mm": "--", "cm": ",", "pm": "->*", "pt": "->", "cl": "()", "ix": "[]", "qu": "?",
}  # fmt: skip
_ITANIUM_STD = {"St": "std", "Sa": "std::allocator", "Sb": "std::basic_string", "Ss": "std::string",
                "Si": "std::istream", "So": "std::ostream", "Sd": "std::iostream"}
_MAX_DEPTH = 64  # backrefs can loop in a malformed name


def demangle(symbol: str) -> str:
    """The readable name of a mangled symbol (``_Z``/``_R``), any clone suffix (``.cold``) kept; any
    other symbol, or one this subset cannot read, unchanged."""
    if not symbol.startswith(("_Z", "_R")):
        return symbol
    m = _SUFFIX_RE.search(symbol)  # not partition("."): Rust's legacy names hold ".." for "::"
    base, suffix = (symbol[: m.start()], m.group(0)) if m else (symbol, "")
    try:
        name = _Rust(base[2:]).symbol() if base.startswith("_R") else _Itanium(base[2:]).name()
    except (IndexError, ValueError, RecursionError):  # not a name this subset reads: kept as printed
        return symbol
    return name + suffix if name else symbol


class _Cursor:
    def __init__(self, text: str) -> None:
        self.s = text
        self.i = 0

    def peek(self) -> str:
        return self.s[self.i] if self.i < len(self.s) else ""

    def eat(self, ch: str) -> bool:
        if self.peek() == ch:
            self.i += 1
            return True
        return False

    def need(self, ch: str) -> None:
        if not self.eat(ch):
            raise ValueError(f"expected {ch!r} at {self.i}")

    def decimal(self) -> int:
        start = self.i
        while self.peek().isdigit():
            self.i += 1
        if start == self.i:
            raise ValueError("expected a number")
        return int(self.s[start : self.i])

    def take(self, n: int) -> str:
        if n < 0 or self.i + n > len(self.s):
            raise ValueError("name runs past the symbol")
        out = self.s[self.i : self.i + n]
        self.i += n
        return out


class _Rust(_Cursor):
    """RFC 2603 v0: ``_R <path> [<instantiating-crate>] [<vendor-specific-suffix>]``."""

    def __init__(self, text: str, depth: int = 0) -> None:
        super().__init__(text)
        self.depth = depth

    def symbol(self) -> str:
        if self.peek().isdigit():  # an encoding version: only version 0, printed as nothing
            raise ValueError("unknown v0 encoding version")
        return self.path()

    def base62(self) -> int:
        """``_`` is 0, ``<digits>_`` is value + 1."""
        if self.eat("_"):
            return 0
        n = 0
        while not self.eat("_"):
            n = n * 62 + _BASE62.index(self.take(1))
        return n + 1

    def disambiguator(self) -> None:
        if self.eat("s"):
            self.base62()

    def ident(self) -> str:
        punycode = self.eat("u")
        n = self.decimal()
        self.eat("_")  # separates a length from a name that starts with a digit or "_"
        name = self.take(n)
        return f"{{punycode:{name}}}" if punycode else name

    def backref(self) -> _Rust:
        target = self.base62()
        if self.depth >= _MAX_DEPTH or target >= self.i:
            raise ValueError("backref forward or too deep")
        sub = _Rust(self.s, self.depth + 1)
        sub.i = target
        return sub

    def path(self) -> str:
        tag = self.take(1)
        if tag == "C":
            self.disambiguator()
            return self.ident()
        if tag == "N":
            ns = self.take(1)
            parent = self.path()
            self.disambiguator()
            name = self.ident()
            if ns.isupper():  # closures, shims: "{closure#0}"
                return f"{parent}::{{{'closure' if ns == 'C' else 'shim'}:{name}}}"
            return f"{parent}::{name}" if name else parent
        if tag in "MXY":
            if tag != "Y":
                self.disambiguator()
                self.path()  # the impl's own path: where it is written, not what it implements
            typ = self.type()
            return f"<{typ} as {self.path()}>" if tag in "XY" else f"<{typ}>"
        if tag == "I":
            name = self.path()
            while not self.eat("E"):
                self.generic_arg()
            return name  # generic arguments left out: one name per function
        if tag == "B":
            return self.backref().path()
        raise ValueError(f"path tag {tag!r}")

    def generic_arg(self) -> None:
        if self.eat("L"):
            self.base62()
        elif self.eat("K"):
            self.const()
        else:
            self.type()

    def const(self) -> None:
        if self.eat("B"):
            self.backref()
            return
        if self.eat("p"):
            return
        self.take(1)  # the const's type
        self.eat("n")
        while not self.eat("_"):
            self.take(1)

    def type(self) -> str:
        ch = self.peek()
        if ch in _RUST_BASIC and ch.islower():
            self.i += 1
            return _RUST_BASIC[ch]
        self.i += 1
        if ch in "RQ":
            if self.eat("L"):
                self.base62()
            return ("&" if ch == "R" else "&mut ") + self.type()
        if ch in "PO":
            return ("*const " if ch == "P" else "*mut ") + self.type()
        if ch == "A":
            inner = self.type()
            self.const()
            return f"[{inner}; _]"
        if ch == "S":
            return f"[{self.type()}]"
        if ch == "T":
            parts = []
            while not self.eat("E"):
                parts.append(self.type())
            return "(" + ", ".join(parts) + ")"
        if ch == "B":
            return self.backref().type()
        if ch in "CNMXYI":
            self.i -= 1
            return self.path()
        raise ValueError(f"type tag {ch!r}")  # fn pointers and dyn types: not in function names


class _Itanium(_Cursor):
    """``_Z <name> <bare-function-type>``: the name alone, parameters not read."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.subs: list[str] = []  # prefixes that S_/S<n>_ refer back to

    def name(self) -> str:
        if self.eat("N"):
            return self.nested()
        if self.eat("Z"):  # a local entity: "<function>::<name>"
            outer = self.name()
            while self.peek() and self.peek() != "E":
                self.i += 1  # the enclosing function's parameters
            self.need("E")
            return f"{outer}::{self.name()}"
        if self.peek() == "S" and self.s[self.i : self.i + 2] in _ITANIUM_STD:
            std = _ITANIUM_STD[self.take(2)]
            return f"{std}::{self.unqualified('')}"
        name = self.unqualified("")
        if self.peek() == "I":
            self.subs.append(name)
            self.template_args()
        return name

    def nested(self) -> str:
        while self.peek() in ("r", "V", "K", "R", "O"):  # cv- and ref-qualifiers of a member
            self.i += 1
        parts: list[str] = []
        while not self.eat("E"):
            ch = self.peek()
            if ch == "S":
                parts.append(self.substitution())
            elif ch == "I":
                self.template_args()
            else:
                parts.append(self.unqualified(parts[-1] if parts else ""))
                self.subs.append("::".join(parts))
        legacy_hash = len(parts) > 1 and _LEGACY_HASH_RE.match(parts[-1])
        return "::".join(_unescape(p) for p in (parts[:-1] if legacy_hash else parts))

    def unqualified(self, enclosing: str) -> str:
        ch = self.peek()
        if ch.isdigit():
            return self.take(self.decimal())
        if ch == "L":  # internal linkage (GCC): the name follows
            self.i += 1
            return self.unqualified(enclosing)
        if ch in "CD" and self.s[self.i + 1 : self.i + 2].isdigit():  # constructors, destructors
            self.i += 2
            leaf = enclosing.rsplit("::", 1)[-1]
            return leaf if ch == "C" else f"~{leaf}"
        code = self.s[self.i : self.i + 2]
        if code in _OPERATORS:
            self.i += 2
            return "operator" + _OPERATORS[code]
        raise ValueError(f"name tag {ch!r}")

    def substitution(self) -> str:
        self.need("S")
        two = "S" + self.peek()
        if two in _ITANIUM_STD:
            self.i += 1
            return _ITANIUM_STD[two]
        if self.eat("_"):
            return self.subs[0]
        n = 0
        while not self.eat("_"):
            n = n * 36 + int(self.take(1), 36)
        return self.subs[n + 1]

    def template_args(self) -> None:
        """Skips ``I ... E`` (nested ones too): template arguments are left out of the name."""
        self.need("I")
        depth = 1
        while depth:
            ch = self.take(1)
            if ch.isdigit():  # a source name inside: skip its characters, which may hold I or E
                self.i -= 1
                self.take(self.decimal())
            elif ch in "IX":
                depth += 1
            elif ch == "E":
                depth -= 1


def _unescape(part: str) -> str:
    """Rust legacy escapes ($LT$, .., $u20$) in one identifier; C++ names have none."""
    if "$" not in part and ".." not in part:
        return part
    if part.startswith("_$"):  # an identifier starting with an escape gets a "_" in front
        part = part[1:]
    for k, v in _LEGACY_ESCAPES.items():
        part = part.replace(k, v)
    return part.replace("..", "::")
