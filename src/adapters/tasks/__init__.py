"""Task queue adapters: in-process for the embedded profile, Dramatiq for production."""
