"""Orders and complaints by province (热力图), read from the orders'
delivery addresses.

A Chinese address begins with its province-level region ("广东省广州市…",
"上海市浦东新区…", "新疆乌鲁木齐市…"); the province is found by the longest
known name at the start. The dashboard draws the counts as a tile map: one
square per province at its rough place in the country (the column and row
below), so a heat map needs no map geometry downloaded from anywhere.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Tuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.store.models import Order, Ticket


@dataclass(frozen=True)
class Province:
    name: str  # short name, as on the map
    en: str
    prefixes: Tuple[str, ...]  # how addresses begin
    col: int  # the tile map: west to east
    row: int  # north to south


PROVINCES: Tuple[Province, ...] = (
    Province("黑龙江", "Heilongjiang", ("黑龙江",), 8, 0),
    Province("吉林", "Jilin", ("吉林",), 8, 1),
    Province("新疆", "Xinjiang", ("新疆",), 0, 2),
    Province("内蒙古", "Inner Mongolia", ("内蒙古",), 5, 1),
    Province("辽宁", "Liaoning", ("辽宁",), 8, 2),
    Province("北京", "Beijing", ("北京",), 6, 2),
    Province("天津", "Tianjin", ("天津",), 7, 2),
    Province("甘肃", "Gansu", ("甘肃",), 2, 3),
    Province("宁夏", "Ningxia", ("宁夏",), 3, 3),
    Province("山西", "Shanxi", ("山西",), 5, 3),
    Province("河北", "Hebei", ("河北",), 6, 3),
    Province("山东", "Shandong", ("山东",), 7, 3),
    Province("青海", "Qinghai", ("青海",), 1, 3),
    Province("西藏", "Tibet", ("西藏",), 0, 4),
    Province("陕西", "Shaanxi", ("陕西",), 4, 4),
    Province("河南", "Henan", ("河南",), 5, 4),
    Province("江苏", "Jiangsu", ("江苏",), 7, 4),
    Province("四川", "Sichuan", ("四川",), 2, 5),
    Province("重庆", "Chongqing", ("重庆",), 3, 5),
    Province("湖北", "Hubei", ("湖北",), 4, 5),
    Province("安徽", "Anhui", ("安徽",), 6, 5),
    Province("上海", "Shanghai", ("上海",), 8, 5),
    Province("浙江", "Zhejiang", ("浙江",), 7, 6),
    Province("云南", "Yunnan", ("云南",), 1, 6),
    Province("贵州", "Guizhou", ("贵州",), 2, 6),
    Province("湖南", "Hunan", ("湖南",), 4, 6),
    Province("江西", "Jiangxi", ("江西",), 5, 6),
    Province("福建", "Fujian", ("福建",), 6, 7),
    Province("广西", "Guangxi", ("广西",), 3, 7),
    Province("广东", "Guangdong", ("广东",), 4, 7),
    Province("台湾", "Taiwan", ("台湾",), 7, 7),
    Province("海南", "Hainan", ("海南",), 3, 8),
    Province("香港", "Hong Kong", ("香港",), 5, 8),
    Province("澳门", "Macao", ("澳门",), 4, 8),
)
_BY_PREFIX = sorted(((p, prov) for prov in PROVINCES for p in prov.prefixes), key=lambda x: -len(x[0]))


def province_of(address: Optional[str]) -> Optional[str]:
    """The province-level region an address begins with, else None."""
    text = (address or "").strip()
    for prefix, province in _BY_PREFIX:
        if text.startswith(prefix):
            return province.name
    return None


def by_province(s: Session, start: datetime, end: datetime) -> Dict[str, Any]:
    """Orders placed and complaints opened in the range, per province, with
    each province's tile; provinces with neither are listed with zeros so
    the map shows the whole country."""
    orders = Counter(province_of(a) for a in s.execute(
        select(Order.address).where(Order.created_at >= start, Order.created_at < end)).scalars())
    complaints = Counter(province_of(a) for a in s.execute(
        select(Order.address).join(Ticket, Ticket.order_id == Order.id)
        .where(Ticket.category == "complaint", Ticket.created_at >= start, Ticket.created_at < end)).scalars())
    rows: List[Dict[str, Any]] = [
        {"province": p.name, "en": p.en, "col": p.col, "row": p.row, "orders": orders.get(p.name, 0),
         "complaints": complaints.get(p.name, 0)} for p in PROVINCES]
    return {"provinces": rows, "unknown_orders": orders.get(None, 0), "unknown_complaints": complaints.get(None, 0)}
