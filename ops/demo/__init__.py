"""The demo consortium and its lifecycles, as `medledger up`, `medledger demo` and the
simulators run them: the members and their keys (`consortium`), the seeded organisations
(`seed`), a unit's lifecycle through the SDK (`lifecycle`, `unit_trace`) and through the
partner API (`e2e_lifecycle`)."""
