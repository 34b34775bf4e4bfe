"""MedLedger on external EVM engines: deploying the suite to any JSON-RPC endpoint
(anvil, Hyperledger Besu, our node) and starting anvil for tests and benchmarks."""
