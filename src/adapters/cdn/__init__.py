"""CDN adapters: URL signers for objects served through a CDN (CloudFront)."""
