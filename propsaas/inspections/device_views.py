"""The equipment ledger pages (设备台账): filled in by the ledger work."""
