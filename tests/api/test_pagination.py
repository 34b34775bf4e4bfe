"""The offset-paged list routes refuse an offset no database can use with a 422 and a code."""

from __future__ import annotations

import pytest

from medledger.web.pagination import MAX_OFFSET
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner

ROUTES = ("/v1/partner/shipments", "/v1/partner/documents")


@pytest.mark.parametrize("path", ROUTES)
def test_an_offset_beyond_64_bits_is_a_422_offset_out_of_range(
    partner: PartnerEnv, path: str
) -> None:
    headers = partner.login(partner.api.consortium.manufacturer)
    response = partner.api.client.get(
        path, params={"offset": "99999999999999999999"}, headers=headers
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "offset_out_of_range"
    assert response.json()["max_offset"] == MAX_OFFSET


@pytest.mark.parametrize("path", ROUTES)
def test_the_largest_offset_and_a_capped_limit_still_answer_a_page(
    partner: PartnerEnv, path: str
) -> None:
    headers = partner.login(partner.api.consortium.manufacturer)
    client = partner.api.client
    last = client.get(path, params={"offset": MAX_OFFSET, "limit": 1000}, headers=headers)
    assert last.status_code == 200, last.text
    assert last.json() == []
    negative = client.get(path, params={"offset": -1}, headers=headers)
    assert negative.status_code == 422
    assert negative.json()["code"] == "invalid_request"
