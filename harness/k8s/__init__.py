"""Talking to the Kubernetes API: the client, waits and their conditions, the namespace watch,
namespaces, the Eviction-API drain, and the diagnostics collected before anything is deleted."""
