"""The regulator's portal views over the indexer: the network overview
(`overview`), members with their licences (`members`) and the recall list (`recalls`).
Pages are in `portal.routes.regulator`; writes go through `api.routes.regulator`'s
`regulator_ledger`, alerts through `api.alerts`, recall progress through
`api.recall_acks`."""
