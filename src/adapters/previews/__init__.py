"""Preview indexes: in memory (embedded, one process) and Redis (production, shared)."""
