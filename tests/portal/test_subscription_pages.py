"""The event-subscriptions page through the real app: a member's QA subscribes its system,
sees the secret once, watches a failing delivery turn into a dead letter and sends it
again, in Chinese and English; a clerk may not post, and another member sees nothing."""

from __future__ import annotations

from medledger.domain.delivery.worker import DeliveryWorker
from tests.api.webhook_receiver import start_receiver
from tests.portal.conftest import PortalEnv, csrf_of

PAGE = "/portal/subscriptions"


def test_qa_subscribes_sees_a_dead_letter_and_sends_it_again(portal: PortalEnv) -> None:
    services = portal.api.services
    services.settings = services.settings.model_copy(
        update={
            "webhook_allow_private_http": True,
            "webhook_base_delay": 0.001,
            "webhook_max_delay": 0.002,
            "webhook_max_attempts": 1,
        }
    )
    receiver = start_receiver()
    try:
        c = portal.api.consortium
        clerk = portal.sign_in(portal.add_staff("dist-clerk", of="distributor", role="clerk"))
        refused = clerk.post(
            PAGE,
            data={
                "url": receiver.url("/x"),
                "kinds": "shipment.inbound",
                "csrf_token": csrf_of(clerk.get("/portal/sign-in").text),
            },
        )
        assert refused.status_code == 403

        qa = portal.sign_in(portal.add_staff("dist-qa", of="distributor", role="qa"))
        page = qa.get(PAGE)
        assert page.status_code == 200 and "<h1>事件订阅</h1>" in page.text
        bad = qa.post(
            PAGE,
            data={
                "url": "ftp://127.0.0.1/x",
                "kinds": "shipment.inbound",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert bad.status_code in (400, 422) and "webhook_url_invalid" in bad.text
        assert "地址必须是不含用户名和密码的 https 网址。" in bad.text
        created = qa.post(
            PAGE,
            data={
                "url": receiver.url("/erp"),
                "kinds": "shipment.inbound",
                "csrf_token": csrf_of(page.text),
            },
        )
        assert created.status_code == 200 and "whsec_" in created.text
        assert "whsec_" not in qa.get(PAGE).text  # the secret is shown once

        receiver.answer("/erp", 500)
        ids = c.manufacturer.commission(c.lot_key, ["PG1"]).value
        c.manufacturer.ship(c.distributor.address, ids)
        portal.api.sync()
        worker = DeliveryWorker(services, threads=1)
        worker.run_once()
        page = qa.get(PAGE)
        assert 'data-status="suspended"' in page.text and "data-dead=" in page.text
        assert "推送失败" in page.text and "重新推送" in page.text
        english = portal.sign_in("dist-qa", lang="en").get(PAGE).text
        assert "Failed deliveries" in english and "Send again" in english

        seq = page.text.split('data-dead="')[1].split('"')[0]
        sub_id = page.text.split('data-subscription="')[1].split('"')[0]
        again = qa.post(
            f"{PAGE}/{sub_id}",
            data={"action": "replay", "seq": seq, "csrf_token": csrf_of(page.text)},
        )
        assert again.status_code == 200 and 'data-status="active"' in again.text
        worker.run_once()
        worker.close()
        assert len(receiver.got["/erp"]) == 2
        assert "已送达" in qa.get(PAGE).text

        other = portal.sign_in(portal.add_staff("hosp-qa", of="hospital", role="qa"))
        assert sub_id not in other.get(PAGE).text
        foreign = other.post(
            f"{PAGE}/{sub_id}",
            data={"action": "delete", "csrf_token": csrf_of(other.get(PAGE).text)},
        )
        assert "subscription_not_found" in foreign.text
    finally:
        receiver.close()
