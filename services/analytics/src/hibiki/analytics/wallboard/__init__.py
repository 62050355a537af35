"""The live wallboard (CC-07): its model, the NATS feed, the restore on start, the API and the page."""
