"""The domain layer: one module per domain (partners, devices, items, recalls, documents,
verification), called by every face (API, portal, CLI)."""
