"""A realistic demo shop, built deterministically from a seed.

The catalogue's base products (``data/catalog/products.yml``) become a few
hundred variants; a few thousand orders in every state get payments,
shipments and tracking timelines. A handful of fixed demo orders (README)
exist in every seeded shop so that newcomers and tests know what to type:
张三 (phone 13800005678) owns orders 2611010000000001..06 and 08, 李四
(13900001234) owns 2611010000000007; ticket TK00000001 and return
AS00000001 belong to 张三.

    python -m kefu.store.seed            # migrate, seed if empty
    python -m kefu.store.seed --reset    # wipe and seed again
"""
from __future__ import annotations

import argparse
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Sequence, Tuple

from sqlalchemy import func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from kefu.core.clock import to_db
from kefu.core.config import load_settings
from kefu.core.privacy import mask_phone
from kefu.nlu.lookup import load_catalog
from kefu.store.db import make_engine, migrate, session_scope
from kefu.store.models import (
    AftersaleRequest,
    Base,
    Category,
    ChannelIdentity,
    Customer,
    Order,
    OrderItem,
    Payment,
    Product,
    Shipment,
    Ticket,
    TrackingEvent,
)
from kefu.store.shop import TICKET_SLA

DEMO_CUSTOMER = {"name": "张三", "phone": "13800005678", "email": "zhangsan@example.com"}
#: 李四 is a VIP: a handoff of his goes to the VIP desk, ahead of regular shoppers (routing.yml)
OTHER_CUSTOMER = {"name": "李四", "phone": "13900001234", "email": "lisi@example.com", "tier": "vip"}
#: channel identities linked to 张三, on the channels that vouch for them (kefu.core.ids)
DEMO_IDENTITIES = [("telegram", "10001"), ("wechat", "o-demo-openid-zhangsan")]
DEMO_ADDRESS = "上海市浦东新区张江路88号3栋1201室"

SURNAMES = (
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘蒋蔡余杜叶程魏苏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
)
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕"
    "彬鹏辉亮俊晨宇欣怡子涵浩然梓轩雨萱思远佳琪一诺"
)
CITIES = [
    ("北京市", "朝阳区", "建国路"), ("上海市", "浦东新区", "世纪大道"), ("广东省广州市", "天河区", "天河路"),
    ("广东省深圳市", "南山区", "科技园路"), ("浙江省杭州市", "西湖区", "文三路"), ("江苏省南京市", "鼓楼区", "中山路"),
    ("四川省成都市", "武侯区", "人民南路"), ("湖北省武汉市", "洪山区", "珞喻路"),
    ("陕西省西安市", "雁塔区", "长安南路"),
    ("重庆市", "渝中区", "解放碑路"), ("山东省青岛市", "市南区", "香港中路"), ("新疆乌鲁木齐市", "天山区", "解放北路"),
]
HUBS = [("杭州转运中心", "Hangzhou hub"), ("上海转运中心", "Shanghai hub"), ("广州转运中心", "Guangzhou hub"),
        ("武汉转运中心", "Wuhan hub"), ("北京转运中心", "Beijing hub"), ("成都转运中心", "Chengdu hub")]
CARRIERS = [("中通快递", "ZT"), ("顺丰速运", "SF")]
PAYMENT_METHODS = ["alipay", "wechat_pay", "card", "huabei"]

#: variant axes per category: (spec name, values)
VARIANTS: Dict[str, List[tuple[str, Sequence[str]]]] = {
    "digital": [("颜色", ["黑色", "白色", "蓝色"]), ("版本", ["标准版", "高配版", "旗舰版"])],
    "appliance": [("颜色", ["白色", "灰色"]), ("规格", ["标准款", "升级款", "家庭款"])],
    "beauty": [("规格", ["30ml", "50ml", "100ml"]), ("版本", ["正装", "礼盒装"])],
    "apparel": [("颜色", ["黑色", "白色", "藏青"]), ("尺码", ["S", "M", "L", "XL"])],
    "food": [("规格", ["500g", "1kg", "2.5kg"]), ("包装", ["家庭装", "礼盒装"])],
    "baby": [("规格", ["1段", "2段", "3段"]), ("包装", ["单件", "组合装"])],
    "home": [("颜色", ["米白", "浅灰", "雾蓝"]), ("尺寸", ["标准", "加大"])],
    "underwear": [("颜色", ["肤色", "黑色", "白色"]), ("尺码", ["S", "M", "L"])],
}
STATUS_WEIGHTS = {"unpaid": 6, "paid": 12, "shipped": 18, "delivered": 48, "cancelled": 8, "refunded": 8}


@dataclass
class _Built:
    products: List[Product]
    by_base: Dict[str, List[Product]]


def seed(engine: Engine, seed: int = 42, orders: int = 3000, now: Optional[datetime] = None,
         reset: bool = False) -> bool:
    """Fill an empty (migrated) shop; returns False when it already had data
    and ``reset`` was not asked for. The same seed and ``now`` give the same
    shop."""
    now = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    with session_scope(engine) as s:
        if s.execute(select(func.count()).select_from(Customer)).scalar_one() and not reset:
            return False
        if reset:
            for table in reversed(Base.metadata.sorted_tables):
                s.execute(table.delete())
    rng = random.Random(seed)
    with session_scope(engine) as s:
        built = _catalogue(s, rng)
        demo, other = _demo_customers(s)
        _demo_orders(s, built, demo, other, now)
        customers = _customers(s, rng, count=max(20, orders // 6), now=now)
        _orders(s, rng, built, customers, orders, now)
    return True


def _catalogue(s: Session, rng: random.Random) -> _Built:
    catalog = load_catalog()
    for c in catalog["categories"]:
        s.add(Category(code=c["code"], name_zh=c["zh"], name_en=c["en"], returnable=c["returnable"],
                       warranty_months=c.get("warranty_months", 0)))
    products: List[Product] = []
    by_base: Dict[str, List[Product]] = {}
    for index, base in enumerate(catalog["products"]):
        axes = VARIANTS[base["category"]]
        first, second = axes[0], axes[1]
        base_price = int(round(float(base["price"]) * 100))
        for i, a in enumerate(first[1]):
            for j, b in enumerate(second[1]):
                step = 1 + 0.12 * j + 0.03 * i
                product = Product(
                    sku=f"P{index:03d}-{i}{j}",
                    name=f"{base['name']} {a} {b}",
                    base_name=base["name"],
                    category_code=base["category"],
                    price_cents=_shop_price(base_price * step),
                    stock=rng.choice([0, 3, 8, 15, 40, 120, 300, 500]),
                    specs={"品牌": base.get("brand", ""), first[0]: a, second[0]: b},
                )
                s.add(product)
                products.append(product)
                by_base.setdefault(base["name"], []).append(product)
    s.flush()
    return _Built(products, by_base)


def _shop_price(cents: float) -> int:
    """Prices the way shops write them: 2129.00, 89.00, 9.90."""
    yuan = cents / 100
    if yuan >= 20:
        return (int(yuan) // 10 * 10 + 9) * 100
    return int(round(cents, -1))


def _demo_customers(s: Session) -> Tuple[Customer, Customer]:
    demo = Customer(created_at=datetime(2024, 3, 1), **DEMO_CUSTOMER)
    other = Customer(created_at=datetime(2024, 5, 1), **OTHER_CUSTOMER)
    s.add_all([demo, other])
    s.flush()
    for channel, external_id in DEMO_IDENTITIES:
        s.add(ChannelIdentity(customer_id=demo.id, channel=channel, external_id=external_id))
    return demo, other


def _demo_orders(s: Session, built: _Built, demo: Customer, other: Customer, now: datetime) -> None:
    """The orders the README and the tests talk about, relative to ``now``."""
    plan = [
        # suffix, customer, product, status, days since order, days since delivery
        (1, demo, "iPhone 15", "shipped", 2, None),
        (2, demo, "AirPods Pro", "paid", 0.1, None),
        (3, demo, "真丝连衣裙", "delivered", 5, 2),
        (4, demo, "双肩包", "delivered", 25, 20),
        (5, demo, "Kindle", "unpaid", 0.05, None),
        (6, demo, "三只松鼠坚果礼盒", "delivered", 4, 1),
        (7, other, "小米14", "shipped", 2, None),
        (8, demo, "优衣库羽绒服", "delivered", 9, 4),
    ]
    for suffix, customer, base, status, days, delivered_days in plan:
        product = built.by_base[base][0]
        _make_order(
            s, order_id=f"26110100000000{suffix:02d}", customer=customer, status=status,
            items=[(product, 1)], created=now - timedelta(days=days), address=DEMO_ADDRESS,
            delivered=(now - timedelta(days=delivered_days)) if delivered_days is not None else None,
            rng=random.Random(suffix), now=now,
        )
    s.flush()
    request = AftersaleRequest(order_id="2611010000000008", kind="return", status="received",
                               reason="颜色和图片不一样", refund_cents=built.by_base["优衣库羽绒服"][0].price_cents,
                               created_at=to_db(now - timedelta(days=3)), updated_at=to_db(now - timedelta(days=1)))
    s.add(request)
    s.flush()
    request.id = f"AS{request.number:08d}"
    priority, hours = TICKET_SLA["aftersale"]
    ticket = Ticket(category="aftersale", priority=priority, status="pending", summary="退货包裹已寄回，催退款",
                    excerpt="shopper: 退货寄回去三天了 什么时候退款", channel="web", conversation_key="demo",
                    customer_id=demo.id, order_id="2611010000000008", created_at=to_db(now - timedelta(hours=5)),
                    sla_due_at=to_db(now - timedelta(hours=5) + timedelta(hours=hours)))
    s.add(ticket)
    s.flush()
    ticket.id = f"TK{ticket.number:08d}"


def _tier(n: int) -> str:
    """About one shopper in forty is a VIP and one in two hundred a super-VIP
    (by place, so the random draws of the rest of the shop stay the same)."""
    return "svip" if n % 200 == 13 else "vip" if n % 40 == 7 else "regular"


def _customers(s: Session, rng: random.Random, count: int, now: datetime) -> List[Customer]:
    customers = []
    for n in range(count):
        name = rng.choice(SURNAMES) + "".join(rng.choice(GIVEN) for _ in range(rng.choice([1, 2])))
        phone = "1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9))
        customer = Customer(name=name, phone=phone, email=f"user{n:05d}@example.com",
                            created_at=to_db(now - timedelta(days=rng.randint(30, 900))), tier=_tier(n))
        customers.append(customer)
    s.add_all(customers)
    s.flush()
    for n, customer in enumerate(customers):
        if n % 10 == 0:  # some shoppers are known on a channel that vouches for them
            channel = ("wechat", "telegram")[n // 10 % 2]
            external = {"wechat": f"o-seed-{n:05d}", "telegram": str(200000 + n)}[channel]
            s.add(ChannelIdentity(customer_id=customer.id, channel=channel, external_id=external))
    return customers


def _orders(s: Session, rng: random.Random, built: _Built, customers: List[Customer], count: int,
            now: datetime) -> None:
    statuses = list(STATUS_WEIGHTS)
    weights = list(STATUS_WEIGHTS.values())
    for n in range(count):
        status = rng.choices(statuses, weights)[0]
        age = {"unpaid": rng.uniform(0, 0.02), "paid": rng.uniform(0, 2), "shipped": rng.uniform(1, 5)}.get(
            status, rng.uniform(3, 120))
        created = now - timedelta(days=age)
        items = [(rng.choice(built.products), rng.choice([1, 1, 1, 2, 3])) for _ in range(rng.choice([1, 1, 2, 3]))]
        delivered = None
        if status in ("delivered", "refunded"):
            delivered = created + timedelta(days=rng.uniform(2, min(age, 6)))
        customer = rng.choice(customers)
        city, district, road = rng.choice(CITIES)
        _make_order(
            s, order_id=f"{created:%y%m%d}{1000 + n:010d}", customer=customer, status=status, items=items,
            created=created, delivered=delivered, rng=rng, now=now,
            address=f"{city}{district}{road}{rng.randint(1, 999)}号{rng.randint(1, 30)}栋{rng.randint(101, 2405)}室",
        )
        if n % 500 == 499:
            s.flush()


def _make_order(s: Session, order_id: str, customer: Customer, status: str, items: Sequence[Tuple[Product, int]],
                created: datetime, delivered: Optional[datetime], address: str, rng: random.Random,
                now: datetime) -> None:
    total = sum(p.price_cents * q for p, q in items)
    total += 0 if total >= 9900 else 800  # shipping fee below 99 CNY
    order = Order(id=order_id, customer_id=customer.id, status=status, total_cents=total,
                  receiver_name=customer.name, receiver_phone=customer.phone, address=address,
                  created_at=to_db(created))
    s.add(order)
    for product, quantity in items:
        s.add(OrderItem(order_id=order_id, product_id=product.id, name=product.name, quantity=quantity,
                        unit_price_cents=product.price_cents))
    if status in ("unpaid",):
        return
    if status == "cancelled" and rng.random() < 0.5:
        order.cancelled_at = to_db(created + timedelta(minutes=30))
        return
    paid = created + timedelta(minutes=rng.randint(1, 20))
    order.paid_at = to_db(paid)
    s.add(Payment(order_id=order_id, method=rng.choice(PAYMENT_METHODS), amount_cents=total,
                  status="refunded" if status in ("cancelled", "refunded") else "paid", paid_at=to_db(paid)))
    if status == "cancelled":
        order.cancelled_at = to_db(paid + timedelta(hours=2))
        return
    if status == "paid":
        return
    _ship(s, order, paid, delivered, rng, now)


def _ship(s: Session, order: Order, paid: datetime, delivered: Optional[datetime], rng: random.Random,
          now: datetime) -> None:
    shipped = paid + timedelta(hours=rng.randint(4, 40))
    carrier, prefix = rng.choice(CARRIERS)
    eta = shipped + timedelta(days=3)
    shipment = Shipment(order_id=order.id, carrier=carrier, tracking_no=f"{prefix}{rng.randint(10**11, 10**12 - 1)}",
                        expected_delivery=to_db(delivered or eta))
    s.add(shipment)
    s.flush()
    order.shipped_at = to_db(shipped)
    events = [(shipped, f"{carrier}已揽收", f"Picked up by {carrier}")]
    end = delivered or min(eta, now)
    hubs = rng.sample(HUBS, 2)
    for k, (zh, en) in enumerate(hubs, start=1):
        moment = shipped + (end - shipped) * k / 3
        events.append((moment, f"快件已到达【{zh}】", f"Arrived at {en}"))
    if delivered:
        courier_phone = mask_phone("1" + rng.choice("3456789") + "".join(rng.choice("0123456789") for _ in range(9)))
        events.append((delivered - timedelta(hours=3), f"快件派送中，派件员电话{courier_phone}", "Out for delivery"))
        events.append((delivered, "已签收，签收人：本人", "Delivered, signed by the recipient"))
        order.delivered_at = to_db(delivered)
    for moment, zh, en in events:
        s.add(TrackingEvent(shipment_id=shipment.id, time=to_db(moment), description_zh=zh, description_en=en))


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Create, migrate and seed the demo shop database.")
    parser.add_argument("--reset", action="store_true", help="wipe the shop and seed it again")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--orders", type=int, default=3000)
    args = parser.parse_args(argv)
    url = load_settings().database_url
    migrate(url)
    created = seed(make_engine(url), seed=args.seed, orders=args.orders, reset=args.reset)
    print("shop seeded" if created else "shop already has data (use --reset to seed again)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
