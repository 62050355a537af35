"""NATS adapters: the ACD's events as protobuf messages on hibiki.<tenant>.acd.* and agent.*."""
