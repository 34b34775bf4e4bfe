"""The registration-renewal page through the real app: a manufacturer's QA renews a
product's registration (new expiry on the ledger, the certificate's copy in the encrypted
document store), in Chinese and English; a clerk may not, a distributor has no such page,
and a GTIN the manufacturer does not make is not found."""

from __future__ import annotations

import datetime as dt

from medledger.domain import documents
from medledger.domain.master_data import certificate_hash, expiry_timestamp
from medledger.portal.routes.manufacturer import product_subject
from tests.portal.conftest import PortalEnv, csrf_of

PAGE = "/portal/registration-renewal"


def test_qa_renews_a_registration_with_the_certificate_copy(portal: PortalEnv) -> None:
    c = portal.api.consortium
    new_expiry = dt.date.today() + dt.timedelta(days=5 * 365)
    form = {
        "gtin": c.gtin,
        "certificate": "国械注准20263130099",
        "registration_expiry": new_expiry.isoformat(),
    }
    clerk = portal.sign_in(portal.add_staff("maker-clerk", of="manufacturer", role="clerk"))
    token = csrf_of(clerk.get(PAGE).text)
    refused = clerk.post(PAGE, data={**form, "csrf_token": token})
    assert refused.status_code == 403
    before = c.manufacturer.product(c.gtin)
    assert before is not None and before.registration_expiry != expiry_timestamp(new_expiry)

    qa = portal.sign_in(portal.add_staff("maker-qa", of="manufacturer", role="qa"))
    page = qa.get(PAGE)
    assert page.status_code == 200 and "<h1>注册证延续</h1>" in page.text and c.gtin in page.text
    unknown = qa.post(
        PAGE, data={**form, "gtin": "09999999999994", "csrf_token": csrf_of(page.text)}
    )
    assert unknown.status_code == 400
    assert "renewal_product_not_found" in unknown.text
    past = qa.post(
        PAGE,
        data={**form, "registration_expiry": "2020-01-01", "csrf_token": csrf_of(page.text)},
    )
    assert past.status_code == 400 and "renewal_expiry_not_future" in past.text

    copy = ("certificate.pdf", b"%PDF-1.4 renewed certificate", "application/pdf")
    done = qa.post(PAGE, data={**form, "csrf_token": csrf_of(page.text)}, files={"documents": copy})
    assert done.status_code == 200, done.text
    assert "延续" in done.text
    after = c.manufacturer.product(c.gtin)
    assert after is not None
    assert after.registration_expiry == expiry_timestamp(new_expiry)
    assert bytes(after.certificate_hash) == certificate_hash("国械注准20263130099")
    stored = documents.list_for(
        portal.api.services,
        address=c.manufacturer.address,
        regulator=False,
        limit=100,
        offset=0,
    )
    assert any(
        d.filename == "certificate.pdf" and d.subject_id == product_subject(c.gtin) for d in stored
    )

    distributor = portal.sign_in("distributor", lang="en")
    assert distributor.get(PAGE).status_code == 403
