"""gRPC adapters: ``hibiki.acd.v1.AcdService`` and the replicas' internal forwarding method."""
