"""The reports, call history and planning API and their pages (HTTP adapters of analytics)."""
