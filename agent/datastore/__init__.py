"""The configuration datastores: contents, the edit engine, locks and
crash-safe persistence. Protocol-neutral."""
