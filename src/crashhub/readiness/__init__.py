"""Kernel readiness: before a fleet rolls out a kernel, boot it under QEMU with kdump set up as the
fleet's is, crash it in standard ways and prove that crashhub can read what the dump holds
(``crashhub kernel check``; docs/readiness.md)."""

# INTEGRATOR: `check` comes from the runner branch; h-readyhub carries a stub (_check.py) with the
# agreed signature. Keep the runner's module at merge.
from crashhub.readiness._check import check
from crashhub.readiness._model import CHECK_KINDS, CheckKind, KindResult, ReadinessReport
from crashhub.readiness._request import (
    FILE_ROLES,
    MAX_PACKAGES,
    CheckFile,
    CheckRequest,
    FileRole,
    check_collector,
    check_crashkernel,
    check_name,
    parse_kinds,
)
from crashhub.readiness._stored import record_of, report_of

__all__ = ["CHECK_KINDS", "FILE_ROLES", "MAX_PACKAGES", "CheckFile", "CheckKind", "CheckRequest", "FileRole",
           "KindResult", "ReadinessReport", "check", "check_collector", "check_crashkernel", "check_name",
           "parse_kinds", "record_of", "report_of"]
