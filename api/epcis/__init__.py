"""EPCIS 2.0 exchange: ledger events exported as EPCIS JSON-LD (`export`), EPCIS documents
captured into signed ledger operations (`capture`), the GS1 schema check (`schema`), EPC
identifiers (`identifiers`) and the store of captured event hashes (`store`)."""
