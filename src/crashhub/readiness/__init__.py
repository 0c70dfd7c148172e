"""Kernel readiness: before a fleet rolls out a kernel, boot it under QEMU with kdump set up as the
fleet's is, crash it in standard ways and prove that crashhub can read what the dump holds
(``crashhub kernel check``; docs/readiness.md)."""

from crashhub.readiness._model import CHECK_KINDS, CheckKind, KindResult, ReadinessReport

# INTEGRATOR: `check` comes from the runner branch; h-readyhub carries a stub (_check.py) with the
# agreed signature. Keep the runner's module at merge.
from crashhub.readiness._check import check  # noqa: E402, I001
from crashhub.readiness._stored import record_of, report_of  # noqa: E402

__all__ = ["CHECK_KINDS", "CheckKind", "KindResult", "ReadinessReport", "check", "record_of", "report_of"]
