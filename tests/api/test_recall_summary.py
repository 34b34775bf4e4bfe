"""The recall summary (`domain.recalls.recall_summary`): per holder what is outstanding,
returned and destroyed; units the manufacturer never shipped count for nothing."""

from __future__ import annotations

from eth_utils import keccak

from medledger.domain.recalls import NOTICE_DAYS, recall_summary
from medledger.ops.demo.consortium import DEMO_LOT
from tests.api import partner_env
from tests.api.partner_env import PartnerEnv

partner = partner_env.partner


def test_a_fresh_recall_counts_only_what_left_the_manufacturer(partner: PartnerEnv) -> None:
    api = partner.api
    c = api.consortium
    serials = [f"S{i}" for i in range(20)]
    units = c.manufacturer.commission(c.lot_key, serials).value
    c.distributor.receive(
        c.manufacturer.ship(c.distributor.address, units[:3]).value, temp_min=50, temp_max=80
    )
    c.hospital.receive(
        c.distributor.ship(c.hospital.address, units[2:3]).value, temp_min=50, temp_max=80
    )
    recall = c.regulator.recall_lot(c.lot_key, level=1, reason_hash=keccak(b"\x01" * 32)).value
    api.sync()
    with api.services.engine.connect() as conn:
        fresh = recall_summary(api.services, conn, recall, now=0)
    # 17 units never left the manufacturer: they are neither outstanding nor returned.
    assert (fresh.outstanding, fresh.returned, fresh.destroyed) == (3, 0, 0)
    assert fresh.done == 0.0
    assert fresh.level == 1 and fresh.deadline - fresh.opened_at == NOTICE_DAYS[1] * 86_400
    assert fresh.lot == DEMO_LOT and fresh.manufacturer.address == c.manufacturer.address
    by = {h.holder.address: h for h in fresh.holders}
    assert by[c.distributor.address].outstanding == 2
    assert by[c.hospital.address].outstanding == 1
    assert by[c.hospital.address].acknowledged_at is None
    assert not by[c.hospital.address].late  # `now` is before the deadline

    # The distributor sends one unit back (recalled stock may go to the manufacturer)
    # and destroys the other; the hospital keeps its unit.
    c.manufacturer.receive(
        c.distributor.ship(c.manufacturer.address, units[:1]).value, temp_min=50, temp_max=80
    )
    c.distributor.destroy(units[1:2])
    api.sync()
    with api.services.engine.connect() as conn:
        later = recall_summary(api.services, conn, recall, now=fresh.deadline + 1)
    by = {h.holder.address: h for h in later.holders}
    dist = by[c.distributor.address]
    assert (dist.outstanding, dist.returned, dist.destroyed) == (0, 1, 1)
    assert by[c.hospital.address].late  # past the 1-day deadline, not acknowledged
    assert (later.outstanding, later.returned, later.destroyed) == (1, 1, 1)
    assert abs(later.done - 2 / 3) < 1e-9
