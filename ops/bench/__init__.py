"""The benchmarks `medledger bench` runs, the gas report, and the deterministic
supply-chain data they are fed with (`supply_chain`)."""
