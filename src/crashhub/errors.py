"""The exception tree of crashhub: every exception class of the package is defined here.

Library code raises these and never calls ``sys.exit``; the CLI turns them into
one line (``Type: message``) and an exit code, the web layer into an HTTP 4xx.
Exceptions carry data (path, offset, field) so callers need not parse messages.
``[+X]`` names a second base kept for callers that catch ``X``. tests/test_errors.py
checks this drawing against the classes below::

    Exception
    ├── CrashhubError             every error crashhub raises on purpose
    │   ├── InputError            bad input from outside: names the file (and offset)
    │   │   ├── LogError          not a kernel log, unreadable log
    │   │   ├── DumpError         a dump that cannot be read as what it claims to be
    │   │   │   ├── DumpFormatError     unknown magic, bad header, out-of-bounds field
    │   │   │   ├── DumpTruncatedError  the file ends before a structure it promises
    │   │   │   ├── DumpMismatchError   a dump whose facts disagree with the crash it is sent for (HTTP 409)
    │   │   │   ├── ExcludedPageError   the page was left out by makedumpfile (-d)
    │   │   │   ├── DecompressError     a page or stream that does not decompress (or is a bomb)
    │   │   │   │   └── DumpTooLargeError   a dump (unwrapped, rebuilt) past a configured size bound
    │   │   │   └── TranslationError    a virtual address the dump's page tables do not map
    │   │   ├── KbError           a knowledge-base file with a bad field (file, line, field)
    │   │   │   └── PatternError [+ValueError]  a rule regex RE2 cannot run (no file: the loader adds it)
    │   │   ├── ConfigError       a bad setting (file or environment variable, name)
    │   │   ├── DebuginfoError    a debuginfo package or file that cannot be imported
    │   │   ├── TooLarge          a blob past the cap it was stored under (HTTP 413 at the routes)
    │   │   ├── MultipartError    a malformed, truncated or too large multipart body (its HTTP status)
    │   │   ├── DatagramError     a netconsole datagram that claims the extended format and breaks it
    │   │   └── UploadLeaseLost   another hub node took over a resumable upload this node was writing
    │   ├── StoreError            the database or blob store failed
    │   │   └── UploadOffsetError   a resumable upload's chunk starts elsewhere than the upload is
    │   ├── AnalysisError         an analysis engine failed (timeout, memory, crash)
    │   ├── CheckUnavailable      a kernel check cannot run on this host (QEMU, busybox, a build tool missing)
    │   │   └── BootFailed        a guest boot went wrong where it can run (QMP error, no panic)
    │   ├── AuthError             missing or wrong credentials (HTTP 401)
    │   │   └── Forbidden         a known token whose role may not do this (HTTP 403)
    │   └── HubError              the agent's request to the hub failed (status, body)
    │       ├── HubUnavailable    unreachable, timeout, 429 or 5xx: retry later, after retry_after
    │       └── HubRejected       a 4xx about this request: retrying will not help
    │           └── UploadConflict    409 on a dump chunk: resume from the hub's offset
    ├── ApiError                  an API handler's answer: HTTP status, message, JSON extras
    ├── PageError                 a UI page's answer: HTTP status and message (an HTML error page)
    └── Redirect                  a UI page's answer: 303 to another page

ApiError, PageError and Redirect are how a web handler answers early; they are no crashhub error:
nothing outside the web layer sees them, and ``except CrashhubError`` must not swallow them.
"""

from __future__ import annotations

# Not typing.TYPE_CHECKING: importing typing costs ~2 ms of every CLI start (mypy honours the name).
TYPE_CHECKING = False
if TYPE_CHECKING:  # pathlib and typing too; only annotations need them
    from pathlib import Path
    from typing import Any


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


class DumpTooLargeError(DecompressError):
    """A dump whose unwrapped or rebuilt bytes pass a configured bound (HTTP 413); nothing is kept."""


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


class PatternError(KbError, ValueError):
    """A rule regex that is not valid, or that the linear-time engine cannot run.

    Raised with the regex alone (``kb.schema.compiled``); the loader re-raises it as a
    :class:`KbError` naming the file, line and field. Still a ``ValueError`` for callers that
    validate a pattern with ``except ValueError``."""

    def __init__(self, message: str) -> None:
        super().__init__(message)

    def __str__(self) -> str:
        return self.message  # no file yet: KbError's "<kb>:" prefix would only mislead


class ConfigError(InputError):
    """A bad setting."""


class DebuginfoError(InputError):
    """A debuginfo package or file that cannot be imported."""


class TooLarge(InputError):
    """More bytes than the cap allows; the partial copy has already been removed."""


class MultipartError(InputError):
    """A multipart body that is malformed, truncated or too large (``status`` is the HTTP code)."""

    def __init__(self, message: str, status: int = 400) -> None:
        self.status = status
        super().__init__(message)


class DatagramError(InputError):
    """A netconsole datagram that claims the extended format and breaks it (the reason is the message)."""


class UploadLeaseLost(InputError):
    """This node's lease on an upload expired and another node took it (a stalled request)."""


class StoreError(CrashhubError):
    """The database or the blob store failed."""


class UploadOffsetError(StoreError):
    """A resumable upload's request starts elsewhere than where the upload is; ``offset`` is where."""

    def __init__(self, message: str, offset: int) -> None:
        self.offset = offset
        super().__init__(message)


class AnalysisError(CrashhubError):
    """An analysis engine failed (timeout, memory limit, crash)."""


class CheckUnavailable(CrashhubError):
    """A kernel check (or the crash lab) cannot run on this host: a tool or a package is missing."""


class BootFailed(CheckUnavailable):
    """A guest boot went wrong where QEMU and the tools work (a QMP error, no panic): a real failure."""


class AuthError(CrashhubError):
    """Missing or wrong credentials."""


class Forbidden(AuthError):
    """A valid token whose role does not grant the action, or that speaks for another host."""


class HubError(CrashhubError):
    """A request of the agent to the hub failed."""

    def __init__(self, message: str, status: int | None = None, body: dict[str, Any] | None = None) -> None:
        self.status = status
        self.body = body or {}
        super().__init__(message)


class HubUnavailable(HubError):
    """The hub could not be reached or failed on its side (retry later).

    ``retry_after``: seconds the hub asked us to wait (its ``Retry-After`` header on a 429 or 503),
    or None."""

    def __init__(self, message: str, status: int | None = None, body: dict[str, Any] | None = None,
                 retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message, status, body)


class HubRejected(HubError):
    """The hub refused the request (4xx)."""


class UploadConflict(HubRejected):
    """409 on a dump chunk: the hub's offset differs from ours; ``offset`` is the hub's."""

    def __init__(self, message: str, offset: int | None, body: dict[str, Any] | None = None) -> None:
        self.offset = offset
        super().__init__(message, 409, body)


# The web layer's early answers: plain Exceptions on purpose (see the module docstring).


class ApiError(Exception):
    """An API handler's answer: the app's handler turns it into ``{"error": message, **extra}``."""

    def __init__(self, status: int, message: str, **extra: Any) -> None:
        self.status = status
        self.message = message
        self.extra = extra
        super().__init__(message)


class PageError(Exception):
    """A UI page's answer: ``web.ui.base.page`` renders it as the HTML error page.

    ``template`` is an i18n message id whose ``{name}`` placeholders ``params`` fill, so the page
    can say it in the reader's language; ``message`` is the English text."""

    def __init__(self, status: int, template: str, **params: object) -> None:
        self.status = status
        self.template = template
        self.params = {k: str(v) for k, v in params.items()}
        self.message = template.format(**self.params) if params else template
        super().__init__(self.message)


class Redirect(Exception):
    """A UI page's answer: ``web.ui.base.page`` turns it into a 303 to ``url``."""

    def __init__(self, url: str) -> None:
        self.url = url
        super().__init__(url)


def disk_full(e: BaseException) -> bool:
    """Whether ``e`` says the disk (or the quota) is full: the hub answers 507, not 400 or 500.

    An ``OSError`` with ENOSPC/EDQUOT, or the database's own word for it (SQLite: "database or disk
    is full"; PostgreSQL: "could not extend file").
    """
    import errno  # noqa: PLC0415 (only on an error path)

    if isinstance(e, OSError):
        return e.errno in (errno.ENOSPC, errno.EDQUOT)
    text = str(e)
    return isinstance(e, StoreError) and ("disk is full" in text or "could not extend file" in text)
