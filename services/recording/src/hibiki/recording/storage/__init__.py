"""Storage adapters: the audio store (local filesystem, S3), the key store, the spool and work files."""
