"""What the regulator's pages share: who may open them (`access`) and their form input
checked against the domain's limits (`forms`). Pages are in `portal.routes.regulator` and
`portal.routes.recalls`; they call the same use cases as the JSON routes
(`domain.regulator`, `domain.recalls`, `domain.network`) and read members
and licences from `indexer.queries.network`."""
