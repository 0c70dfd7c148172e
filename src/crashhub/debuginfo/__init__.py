"""debuginfo."""
