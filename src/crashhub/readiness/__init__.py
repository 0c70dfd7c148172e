"""Kernel readiness: before a fleet rolls out a kernel, boot it under QEMU with kdump set up as the
fleet's is, crash it in standard ways and prove that crashhub can read what the dump holds
(``crashhub kernel check``; docs/readiness.md)."""

from crashhub.readiness._model import CHECK_KINDS, CheckKind, KindResult, ReadinessReport

__all__ = ["CHECK_KINDS", "CheckKind", "KindResult", "ReadinessReport"]
