"""Alerts: rules (what deserves a message), channels (webhooks, SMTP), the dispatcher (dedup, limits, log)."""
