"""The recording index in ClickHouse: its schema, the store, and the queries the service runs."""
