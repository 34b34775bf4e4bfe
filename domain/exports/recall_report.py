"""The recall summary report (召回总结报告) for the regulator: one row per holder of a recall
with the recall's lot, product, level, dates and notice text (reason, action) repeated, and
per holder what is outstanding, returned, destroyed and dispensed, when it acknowledged and
whether it is late (`domain.recalls.recall_summary`)."""

from __future__ import annotations

from sqlalchemy import Connection

from medledger.domain.exports.model import Cell, Column
from medledger.domain.exports.sealed import body_of, text
from medledger.domain.exports.tables import Table, yes_no
from medledger.domain.recalls import recall_summary
from medledger.domain.services import Services
from medledger.indexer.queries.inspection import recall_reason_hash
from medledger.sdk.dates import day_of

__all__ = ["RECALL_REPORT_COLUMNS", "recall_report_table"]

RECALL_REPORT_COLUMNS = tuple(
    Column(zh, en)
    for zh, en in (
        ("召回编号", "Recall no."),
        ("医疗器械名称", "Device name"),
        ("产品标识 (DI/GTIN)", "Device identifier (GTIN)"),
        ("生产批号", "Lot number"),
        ("生产企业", "Manufacturer"),
        ("召回级别", "Level"),
        ("召回开始日期", "Opened on"),
        ("通知期限", "Notice deadline"),
        ("召回结束日期", "Closed on"),
        ("召回原因", "Reason"),
        ("要求措施", "Required action"),
        ("持有单位", "Holder"),
        ("持有单位地址", "Holder address"),
        ("未处理数量", "Outstanding"),
        ("已退回数量", "Returned"),
        ("已销毁数量", "Destroyed"),
        ("已使用数量", "Dispensed"),
        ("确认通知时间", "Acknowledged at"),
        ("逾期", "Late"),
    )
)


def _time(timestamp: int | None) -> str | None:
    return None if timestamp is None else day_of(timestamp).isoformat()


def recall_report_table(
    services: Services, conn: Connection, recall_id: int, *, regulator: str, now: int
) -> tuple[Table, str]:
    """The report's table and the recall's manufacturer's name (NotFound if unknown)."""
    s = recall_summary(services, conn, recall_id, now=now)
    name = s.product_name_zh or s.product_name_en
    if s.notice is not None:
        reason, action = s.notice.reason or None, s.notice.action or None
    else:  # the notice behind the recall's reasonHash, as the regulator reads it
        notice = body_of(
            services, recall_reason_hash(conn, recall_id), reader=regulator, regulator=True
        )
        reason, action = text(notice, "reason"), text(notice, "action")
    common: tuple[Cell, ...] = (
        s.recall_id,
        name,
        s.gtin,
        s.lot,
        s.manufacturer.name,
        s.level,
        _time(s.opened_at),
        _time(s.deadline),
        _time(s.closed_at),
        reason,
        action,
    )
    rows = tuple(
        (
            *common,
            h.holder.name,
            h.holder.address,
            h.outstanding,
            h.returned,
            h.destroyed,
            h.dispensed,
            _time(h.acknowledged_at),
            yes_no(h.late),
        )
        for h in s.holders
    )
    total: tuple[Cell, ...] = (
        *common,
        "合计 Total",
        None,
        s.outstanding,
        s.returned,
        s.destroyed,
        s.dispensed,
        f"{s.acknowledged}/{len(s.holders)}",
        f"{s.late}",
    )
    table = Table(
        f"召回总结报告 第{recall_id}号",
        f"Recall summary report no. {recall_id}",
        RECALL_REPORT_COLUMNS,
        (*rows, total),
    )
    return table, s.manufacturer.name
