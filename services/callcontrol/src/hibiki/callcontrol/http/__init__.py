"""HTTP adapters of callcontrol."""
