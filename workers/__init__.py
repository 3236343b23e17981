"""arq workers, their jobs, and the relay that sends outbox rows to Redis."""
