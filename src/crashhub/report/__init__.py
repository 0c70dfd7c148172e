"""Reports (per crash, per bucket, weekly; HTML, Markdown, JSON), the vendor bundle and its redaction."""
