"""fsemu (in progress)."""
