"""The crash lab: real Debian kernels crashed in QEMU and captured by kdump (a project tool)."""
