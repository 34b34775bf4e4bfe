"""MedLedger: one top-level name for everything that ships. The repository keeps one folder
per piece (api/, portal/, web/, domain/, indexer/, runtime/, sdk/, node/, ops/, engines/);
the symlinks here make each of them `medledger.<piece>`, so an install claims no generic
top-level name such as `api` or `node`. This package's own modules are the command line
(`cli`) and the app's composition (`app`, `serve`)."""
