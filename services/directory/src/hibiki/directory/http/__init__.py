"""HTTP adapters of the directory service."""
