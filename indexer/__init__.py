"""MedLedger indexer: follows an Ethereum JSON-RPC endpoint and projects the contract
events into SQL (SQLite or PostgreSQL), exactly once, with the trace queries on top."""
