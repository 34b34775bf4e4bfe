"""The event-subscriptions page lists a member's EPCIS query subscriptions too, naming the
query (in Chinese and English) where an event subscription lists its kinds."""

from __future__ import annotations

from medledger.domain import epcis_queries as queries
from tests.portal.conftest import PortalEnv

PAGE = "/portal/subscriptions"


def test_the_page_names_the_query_of_an_epcis_query_subscription(portal: PortalEnv) -> None:
    services = portal.api.services
    services.settings = services.settings.model_copy(update={"webhook_allow_private_http": True})
    owner = portal.api.consortium.distributor.address
    queries.create_query(
        services,
        owner=owner,
        created_by="test",
        name="inbound-hips",
        params={"EQ_bizStep": ["receiving"]},
    )
    body = queries.QuerySubscriptionIn(dest="http://127.0.0.1:9/hook", stream=True)
    created = queries.subscribe(
        services, owner=owner, created_by="test", name="inbound-hips", body=body, cursor=0
    )
    qa = portal.sign_in(portal.add_staff("dist-qa", of="distributor", role="qa"))
    page = qa.get(PAGE).text
    assert created.subscriptionID in page
    assert "EPCIS 查询: <code>inbound-hips</code>" in page
    english = portal.sign_in("dist-qa", lang="en").get(PAGE).text
    assert "EPCIS query: <code>inbound-hips</code>" in english
    other = portal.sign_in(portal.add_staff("hosp-qa", of="hospital", role="qa"))
    assert created.subscriptionID not in other.get(PAGE).text
