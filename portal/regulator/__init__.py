"""The regulator's portal views over the indexer: the network overview (`overview`),
members with their licences (`members`), the recall list (`recalls`), who may open the
pages (`access`) and form input turned into the API's request models (`forms`).
Pages are in `portal.routes.regulator` and `portal.routes.regulator_recalls`; writes go
through `api.routes.regulator`'s route functions (signed with the regulator's key),
alerts through `api.alerts`, recall progress and acknowledgements through
`api.recall_acks`."""
