"""Rate limiter adapters: in-process token buckets (embedded) and Redis (production)."""
