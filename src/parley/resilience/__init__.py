"""What keeps delivery going when a dependency fails: circuit breakers (and, to come,
durable retries and dead letters)."""
