"""gRPC adapter of the directory (hibiki.directory.v1.DirectoryService)."""
