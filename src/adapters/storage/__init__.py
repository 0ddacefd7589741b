"""Object storage adapters: local disk for the embedded profile, S3 for production."""
