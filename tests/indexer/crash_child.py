"""Child process for the crash test: index a deterministic synthetic chain into DB_URL,
printing a line after each committed range, until caught up (then print "done")."""

from __future__ import annotations

import sys

from indexer.config import Settings
from indexer.follower import Indexer
from scripts.generate_supply_chain import GeneratorConfig, generate_synthetic

CRASH_CONFIG = GeneratorConfig.small(units=3000, lots=12, units_per_case=6, seed=11)
BATCH_BLOCKS = 6


def main(db_url: str) -> None:
    chain, deployment, _ = generate_synthetic(CRASH_CONFIG, logs_per_block=4)
    with Indexer(Settings(db_url, batch_blocks=BATCH_BLOCKS), chain, deployment) as indexer:
        print("started", flush=True)
        while (result := indexer.sync_once()) is not None:
            print(f"synced {result.to_block}", flush=True)
    print("done", flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
