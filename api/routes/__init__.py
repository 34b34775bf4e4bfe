"""The API's route modules, one per domain; `medledger.app` mounts each `router`."""
