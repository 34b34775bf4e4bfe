"""Users inside an organisation, through the real app over eth-tester: roles on every
POST (a clerk cannot release quarantined goods, in either language, and is not offered
the button), QA release by maker-checker (not by its proposer, not by a clerk, not by
another organisation), the manager's user page, and who is signed in."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.lot_products import Gauze, deliver, register_gauze
from tests.portal.conftest import PortalEnv, csrf_of
from tests.portal.test_partner_pages import post


@pytest.fixture
def gauze(portal: PortalEnv) -> Gauze:
    found = register_gauze(portal.api.consortium, portal.api.chain.now())
    portal.api.sync()
    return found


def balance(portal: PortalEnv, gauze: Gauze, name: str) -> tuple[int, int, int]:
    c = portal.api.consortium
    return c.admin.lot_balance(gauze.lot_index, c.by_name(name).address)


def _quarantined(portal: PortalEnv, gauze: Gauze) -> str:
    c = portal.api.consortium
    deliver(c, gauze, c.distributor, 10)
    portal.api.sync()
    line = f"{gauze.gtin} {gauze.lot} 4"
    done = post(
        portal.sign_in("distributor"),
        "/portal/stock/lots",
        {"lots": line, "action": "quarantine"},
        page="/portal/distributor",
    )
    assert done.status_code == 200 and balance(portal, gauze, "distributor") == (6, 4, 0)
    return line


def _pending_ids(client: TestClient) -> list[str]:
    return re.findall(
        r'data-approval="([0-9a-f]+)" data-kind', client.get("/portal/approvals").text
    )


@pytest.mark.parametrize(
    ("lang", "words"), [("en", "Your role may not do this: it needs QA."), ("zh", "质量")]
)
def test_a_clerk_cannot_release_quarantined_goods_and_is_not_offered_the_button(
    portal: PortalEnv, gauze: Gauze, lang: str, words: str
) -> None:
    line = _quarantined(portal, gauze)
    clerk = portal.sign_in(
        portal.add_staff("dist-clerk", of="distributor", role="clerk"), lang=lang
    )
    page = clerk.get("/portal/distributor").text
    assert 'value="quarantine"' in page and 'value="release"' not in page
    refused = post(clerk, "/portal/stock/lots", {"lots": line, "action": "release"},
                   page="/portal/distributor")  # fmt: skip
    assert refused.status_code == 403
    assert "staff_role_required" in refused.text or words in refused.text
    assert words in refused.text
    assert balance(portal, gauze, "distributor") == (6, 4, 0)
    assert _pending_ids(portal.sign_in("distributor")) == []
    # The clerk still does a clerk's work: quarantine.
    done = post(clerk, "/portal/stock/lots", {"lots": line, "action": "quarantine"},
                page="/portal/distributor")  # fmt: skip
    assert done.status_code == 200 and balance(portal, gauze, "distributor") == (2, 8, 0)
    # And the checkers' pages are not in its menu nor open to it.
    assert 'href="/portal/approvals"' not in page and 'href="/portal/users"' not in page
    assert clerk.get("/portal/approvals").status_code == 403


def test_a_release_needs_a_second_qa_user_and_runs_only_when_approved(
    portal: PortalEnv, gauze: Gauze
) -> None:
    line = _quarantined(portal, gauze)
    qa1 = portal.sign_in(portal.add_staff("dist-qa1", of="distributor", role="qa"), lang="en")
    assert 'value="release"' in qa1.get("/portal/distributor").text
    proposed = post(qa1, "/portal/stock/lots", {"lots": line, "action": "release"},
                    page="/portal/distributor")  # fmt: skip
    assert proposed.status_code == 200 and "proposed" in proposed.text
    assert balance(portal, gauze, "distributor") == (6, 4, 0)  # nothing released yet
    (approval,) = _pending_ids(qa1)
    url = f"/portal/approvals/{approval}/approve"

    own = post(qa1, url, {}, page="/portal/approvals")
    assert own.status_code == 403 and "Another user must approve" in own.text
    clerk = portal.sign_in(portal.add_staff("dist-clerk2", of="distributor", role="clerk"))
    token = csrf_of(clerk.get("/portal/distributor").text)
    assert clerk.post(url, data={"csrf_token": token}).status_code == 403
    stranger = portal.sign_in("hospital")  # another organisation's manager
    foreign = post(stranger, url, {}, page="/portal/approvals")
    assert foreign.status_code == 404
    assert balance(portal, gauze, "distributor") == (6, 4, 0)

    no_reason = post(portal.sign_in("distributor"), f"/portal/approvals/{approval}/reject",
                     {"reason": " "}, page="/portal/approvals")  # fmt: skip
    assert no_reason.status_code == 422

    qa2 = portal.sign_in(portal.add_staff("dist-qa2", of="distributor", role="qa"), lang="en")
    done = post(qa2, url, {}, page="/portal/approvals")
    assert done.status_code == 200 and "Approved and done." in done.text
    assert f'data-approval="{approval}" data-state="approved"' in done.text
    assert balance(portal, gauze, "distributor") == (10, 0, 0)
    again = post(qa2, url, {}, page="/portal/approvals")
    assert again.status_code == 409 and balance(portal, gauze, "distributor") == (10, 0, 0)


def test_a_rejected_release_is_kept_with_its_reason_and_never_runs(
    portal: PortalEnv, gauze: Gauze
) -> None:
    line = _quarantined(portal, gauze)
    qa = portal.sign_in(portal.add_staff("dist-qa3", of="distributor", role="qa"))
    post(qa, "/portal/stock/lots", {"lots": line, "action": "release"}, page="/portal/distributor")
    (approval,) = _pending_ids(qa)
    manager = portal.sign_in("distributor", lang="en")
    rejected = post(manager, f"/portal/approvals/{approval}/reject",
                    {"reason": "温度记录缺失"}, page="/portal/approvals")  # fmt: skip
    assert rejected.status_code == 200 and "温度记录缺失" in rejected.text
    assert f'data-approval="{approval}" data-state="rejected"' in rejected.text
    assert balance(portal, gauze, "distributor") == (6, 4, 0)


def test_a_manager_adds_users_to_its_own_organisation_and_a_clerk_cannot(
    portal: PortalEnv,
) -> None:
    manager = portal.sign_in("hospital", lang="zh")
    page = manager.get("/portal/users").text
    assert 'data-form="add-user"' in page and 'href="/portal/users"' in page
    added = post(manager, "/portal/users", {"username": "zhang.san", "display_name": "张三",
                 "role": "qa", "password": "secret-pass-1"})  # fmt: skip
    assert added.status_code == 200 and 'data-username="zhang.san"' in added.text
    taken = post(manager, "/portal/users", {"username": "zhang.san", "role": "qa",
                 "password": "secret-pass-1"})  # fmt: skip
    assert taken.status_code == 400 and "用户名已被占用" in taken.text
    bad_role = post(manager, "/portal/users", {"username": "li.si", "role": "root",
                    "password": "secret-pass-1"})  # fmt: skip
    assert bad_role.status_code == 400

    client = portal.client(lang="zh")
    form = client.get("/portal/sign-in").text
    signed = client.post("/portal/sign-in", data={"username": "zhang.san",
                         "password": "secret-pass-1", "csrf_token": csrf_of(form)})  # fmt: skip
    assert signed.status_code == 303
    home = client.get("/portal/hospital").text
    assert "张三 (质量)" in home and 'data-staff-role="qa"' in home
    assert client.get("/portal/users").status_code == 403  # QA manages no users
    clerk = portal.sign_in(portal.add_staff("hosp-clerk", of="hospital", role="clerk"))
    token = csrf_of(clerk.get("/portal/hospital").text)
    refused = clerk.post("/portal/users", data={"csrf_token": token, "username": "x.y.z",
                         "role": "manager", "password": "secret-pass-1"})  # fmt: skip
    assert refused.status_code == 403
    users = manager.get("/portal/users").text
    assert 'data-username="x.y.z"' not in users
    # The new user belongs to the hospital only: the distributor's manager does not see it.
    assert (
        'data-username="zhang.san"' not in portal.sign_in("distributor").get("/portal/users").text
    )


USER_CODES = [
    "staff_role_required",
    "approval_role_required",
    "approval_not_found",
    "approval_decided",
    "approval_own_proposal",
    "approval_not_yours",
    "reason_required",
    "approval_limit",
    "user_limit",
    "invalid_role",
    "username_taken",
    "weak_password",
    "invalid_username",
    "user_not_found",
    "audit_anchor_key",
]


@pytest.mark.parametrize("code", USER_CODES)
def test_each_users_and_approvals_code_has_text_in_both_languages(code: str) -> None:
    from medledger.portal.errors import MESSAGES
    from medledger.portal.i18n import translations

    assert code in MESSAGES
    assert translations("zh_CN").gettext(MESSAGES[code]) != MESSAGES[code]


def test_the_role_a_post_needs_is_read_from_the_policy_and_the_form_action() -> None:
    from medledger.domain.auth import StaffRole
    from medledger.portal.context import staff_role_for

    assert staff_role_for("/portal/stock/lots", "quarantine") is StaffRole.CLERK
    assert staff_role_for("/portal/stock/lots", "release") is StaffRole.QA
    assert staff_role_for("/portal/hospital/lots", "release") is StaffRole.QA
    assert staff_role_for("/portal/approvals/abc/approve") is StaffRole.QA
    assert staff_role_for("/portal/users") is StaffRole.MANAGER
    assert staff_role_for("/portal/users", "release") is StaffRole.MANAGER
    assert staff_role_for("/portal/usersx") is StaffRole.CLERK
    assert staff_role_for("/portal/regulator/members/0x1/suspend") is StaffRole.MANAGER


def test_quarantined_serialised_units_are_released_by_maker_checker_too(
    portal: PortalEnv,
) -> None:
    c = portal.api.consortium
    (unit,) = c.manufacturer.commission(c.lot_key, ["QRU-1"]).value
    c.manufacturer.quarantine([unit])
    portal.api.sync()
    code = f"(01){c.gtin}(21)QRU-1"
    clerk = portal.sign_in(portal.add_staff("maker-clerk", of="manufacturer", role="clerk"))
    token = csrf_of(clerk.get("/portal/manufacturer").text)
    refused = clerk.post("/portal/approvals/release-units", data={"csrf_token": token,
                         "units": code})  # fmt: skip
    assert refused.status_code == 403
    maker = portal.sign_in("manufacturer", lang="en")
    proposed = post(maker, "/portal/approvals/release-units", {"units": code},
                    page="/portal/approvals")  # fmt: skip
    assert proposed.status_code == 200 and "Release of 1 units proposed" in proposed.text
    assert c.admin.item(unit).status.name == "QUARANTINED"
    (approval,) = re.findall(r'data-approval="([0-9a-f]+)" data-kind="release_units"',
                             proposed.text)  # fmt: skip
    qa = portal.sign_in(portal.add_staff("maker-qa", of="manufacturer", role="qa"))
    done = post(qa, f"/portal/approvals/{approval}/approve", {}, page="/portal/approvals")
    assert done.status_code == 200 and f'data-approval="{approval}" data-state="approved"' in (
        done.text
    )
    assert c.admin.item(unit).status.name == "ACTIVE"
    # Approved again, or released a second time by a new proposal: the ledger says no, and
    # the action is kept as refused.
    again = post(maker, "/portal/approvals/release-units", {"units": code},
                 page="/portal/approvals")  # fmt: skip
    (second,) = re.findall(r'data-approval="([0-9a-f]+)" data-kind="release_units"', again.text)
    refused_by_ledger = post(qa, f"/portal/approvals/{second}/approve", {},
                             page="/portal/approvals")  # fmt: skip
    assert refused_by_ledger.status_code == 400
    assert f'data-approval="{second}" data-state="failed"' in refused_by_ledger.text


def test_the_add_user_command_gives_a_role_and_refuses_an_unknown_one(
    portal: PortalEnv,
) -> None:
    from typer.testing import CliRunner

    from medledger.cli import app
    from medledger.portal.users import find_user

    c = portal.api.consortium
    data_dir = str(portal.api.services.settings.data_dir)
    env = {"MEDLEDGER_PORTAL_PASSWORD": "qa-password-1"}
    runner = CliRunner()
    args = ["portal", "add-user", "qa.zhao", "--address", c.hospital.address, "--role", "qa",
            "--display-name", "赵质量", "--data-dir", data_dir]  # fmt: skip
    created = runner.invoke(app, args, env=env)
    assert created.exit_code == 0 and "(qa)" in created.output, created.output
    found = find_user(portal.api.services, "qa.zhao")
    assert found is not None and (found[0].role, found[0].created_by) == ("qa", "cli")
    bad = runner.invoke(app, [*args[:2], "x.root", *args[3:5], "--role", "root",
                              "--data-dir", data_dir], env=env)  # fmt: skip
    assert bad.exit_code == 2 and "clerk, qa or manager" in bad.output
    assert find_user(portal.api.services, "x.root") is None
    signed = portal.client(lang="zh")
    form = signed.get("/portal/sign-in").text
    signed.post("/portal/sign-in", data={"username": "qa.zhao", "password": "qa-password-1",
                "csrf_token": csrf_of(form)})  # fmt: skip
    assert "赵质量 (质量)" in signed.get("/portal/hospital").text
