"""The API's route modules, one per domain; `api.main` mounts each `router`."""
