"""NATS adapters: the consumers of RecordingStopped and DispositionSaved, the outgoing events."""
