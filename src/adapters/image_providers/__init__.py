"""Image provider adapters, one module per vendor, plus the registry that names them."""
