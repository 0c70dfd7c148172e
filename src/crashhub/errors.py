"""The exception tree of crashhub.

Library code raises these and never calls ``sys.exit``; the CLI turns them into
one line (``Type: message``) and an exit code, the web layer into an HTTP 4xx.
Exceptions carry data (path, offset, field) so callers need not parse messages::

    CrashhubError
    ├── InputError            bad input from outside: names the file (and offset)
    │   ├── LogError          not a kernel log, unreadable log
    │   ├── DumpError         a dump that cannot be read as what it claims to be
    │   │   ├── DumpFormatError     unknown magic, bad header, out-of-bounds field
    │   │   ├── DumpTruncatedError  the file ends before a structure it promises
    │   │   ├── ExcludedPageError   the page was left out by makedumpfile (-d)
    │   │   ├── DecompressError     a page or stream that does not decompress (or is a bomb)
    │   │   ├── TranslationError    a virtual address the dump's page tables do not map
    │   │   └── DumpMismatchError   a dump whose own facts disagree with the crash it is sent for (HTTP 409)
    │   ├── KbError           a knowledge-base file with a bad field (file, line, field)
    │   ├── ConfigError       a bad setting (file or environment variable, name)
    │   └── DebuginfoError    a debuginfo package or file that cannot be imported
    ├── StoreError            the database or blob store failed
    ├── AnalysisError         an analysis engine failed (timeout, memory, crash)
    └── AuthError             missing or wrong credentials (HTTP 401/403)
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs ~2 ms of every CLI start (mypy honours the name).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pathlib too; only annotations need it
    from pathlib import Path


class CrashhubError(Exception):
    """Base of every error crashhub raises on purpose."""


class InputError(CrashhubError):
    """Bad input from outside crashhub; names the file and, where known, the offset."""

    def __init__(self, message: str, path: str | Path | None = None, offset: int | None = None) -> None:
        self.message = message
        self.path = str(path) if path is not None else None
        self.offset = offset
        super().__init__(self.__str__())

    def __str__(self) -> str:
        where = ""
        if self.path is not None:
            where = f"{self.path}: "
            if self.offset is not None:
                where = f"{self.path} at offset {self.offset:#x}: "
        elif self.offset is not None:
            where = f"at offset {self.offset:#x}: "
        return where + self.message


class LogError(InputError):
    """Not a kernel log, or a log that cannot be read."""


class DumpError(InputError):
    """A dump that cannot be read as what it claims to be."""


class DumpFormatError(DumpError):
    """Unknown magic, a bad header, or a field out of bounds."""


class DumpTruncatedError(DumpError):
    """The file ends before a structure it promises."""


class DumpMismatchError(DumpError):
    """A readable dump whose own facts (utsname host, release, build-id, crash time, kernel log)
    disagree with the crash it was sent for: it is not that crash's dump."""


class ExcludedPageError(DumpError):
    """The page was left out of the dump (makedumpfile's dump level)."""

    def __init__(self, message: str, path: str | Path | None = None, offset: int | None = None,
                 pfn: int | None = None) -> None:
        self.pfn = pfn
        super().__init__(message, path, offset)


class DecompressError(DumpError):
    """A page or stream that does not decompress, or expands past its bound."""


class TranslationError(DumpError):
    """A kernel virtual address that the dump's page tables do not map."""

    def __init__(self, message: str, path: str | Path | None = None, offset: int | None = None,
                 address: int | None = None) -> None:
        self.address = address
        super().__init__(message, path, offset)


class KbError(InputError):
    """A knowledge-base entry with a bad field."""

    def __init__(self, message: str, path: str | Path | None = None, line: int | None = None,
                 field: str | None = None) -> None:
        self.line = line
        self.field = field
        super().__init__(message, path)

    def __str__(self) -> str:
        where = self.path or "<kb>"
        if self.line is not None:
            where += f":{self.line}"
        if self.field:
            where += f": field {self.field!r}"
        return f"{where}: {self.message}"


class ConfigError(InputError):
    """A bad setting."""


class DebuginfoError(InputError):
    """A debuginfo package or file that cannot be imported."""


class StoreError(CrashhubError):
    """The database or the blob store failed."""


class AnalysisError(CrashhubError):
    """An analysis engine failed (timeout, memory limit, crash)."""


class AuthError(CrashhubError):
    """Missing or wrong credentials."""
