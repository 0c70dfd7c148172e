"""Alerts: rules (what deserves a message), channels (webhooks, SMTP), the dispatcher (dedup, limits, log)."""

from crashhub.alerts._records import RESULTS, DeliveryRecord, Result
from crashhub.alerts.rules import ALL_RULES, RULES, SEVERITIES, Alert, RuleName, Severity

__all__ = ["ALL_RULES", "RESULTS", "RULES", "SEVERITIES", "Alert", "DeliveryRecord", "Result", "RuleName",
           "Severity"]
