"""HTTP adapters: queue and agent configuration, queue statistics, the agent desktop."""
