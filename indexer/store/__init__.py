"""The API's own database (keys, documents, recall acknowledgements, oversight cursors,
portal users, sessions and jobs) and the EPCIS capture log: their tables (`tables`, one
MetaData), their Alembic migrations (`engine`, `migrations/`) and one module of typed
queries per domain. The only code that reads or writes these tables."""
