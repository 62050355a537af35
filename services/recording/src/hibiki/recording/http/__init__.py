"""HTTP adapters: the recordings API (search, play, download, delete, audit, key rotation) and info."""
