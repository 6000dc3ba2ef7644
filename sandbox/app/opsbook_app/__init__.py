"""The reference platform the runbooks operate: an HTTP API and a worker sharing a schema."""
