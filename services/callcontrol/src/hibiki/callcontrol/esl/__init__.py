"""Event-socket adapters of the call controller (greenswitch, gevent in its own thread)."""
