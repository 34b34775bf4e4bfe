"""The demo members' GLNs: each gets a primary GLN from the regulator (under its company
prefix, else under a demo prefix of its own) and registers its sites itself: a warehouse
for manufacturers, distributors and the logistics provider (manufacturers also their
plant), a pharmacy store for hospitals."""

from __future__ import annotations

from medledger.sdk.gs1 import make_gln
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role

__all__ = ["DEMO_GLN_PREFIX", "seed_sites"]

DEMO_GLN_PREFIX = "6999"  # + three digits per member without a company prefix

_SITES: dict[Role, tuple[tuple[str, str], ...]] = {
    Role.MANUFACTURER: (("生产厂区", "Plant"), ("成品仓库", "Finished-goods warehouse")),
    Role.DISTRIBUTOR: (("医疗器械仓库", "Medical device warehouse"),),
    Role.LOGISTICS: (("冷链仓库", "Cold-chain warehouse"), ("转运中心", "Cross-dock hub")),
    Role.HOSPITAL: (("器械库房", "Device store"),),
}


def seed_sites(
    regulator: Ledger,
    members: dict[str, Ledger],
    *,
    roles: dict[str, Role],
    prefixes: dict[str, str | None],
    names: dict[str, str],
) -> dict[str, str]:
    """Give every member a primary GLN and its sites; returns slug -> primary GLN."""
    primary: dict[str, str] = {}
    for n, (slug, ledger) in enumerate(sorted(members.items())):
        role = roles[slug]
        if role is Role.REGULATOR:
            continue
        prefix = prefixes.get(slug) or f"{DEMO_GLN_PREFIX}{n:03d}"
        gln = make_gln(company_prefix=prefix, location_reference=1)
        regulator.set_primary_gln(ledger.address, gln)
        primary[slug] = gln
        zh, _, en = names[slug].partition(" / ")
        for ref, (site_zh, site_en) in enumerate(_SITES.get(role, ()), start=2):
            ledger.register_site(
                make_gln(company_prefix=prefix, location_reference=ref),
                name=f"{zh}{site_zh}",
                name_en=f"{en} {site_en}".strip()[:200],
            )
    return primary
