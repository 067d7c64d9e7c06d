"""The shop's rules, against a real database: ownership, order changes,
after-sale eligibility, tickets, ratings, and the data a demo shop holds."""
from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from kefu.store.db import session_scope
from kefu.store.models import Order, Product, Shipment, TrackingEvent
from kefu.store.seed import seed
from kefu.store.shop import ProofPolicy
from tests.conftest import NOW

SHIPPED, PAID, RETURNABLE, LATE, UNPAID, FOOD, OTHER, RETURNED = (f"26110100000000{n:02d}" for n in range(1, 9))


def count(engine, sql: str, **params) -> int:
    with engine.connect() as db:
        return db.execute(text(sql), params).scalar()


# -- the demo shop ---------------------------------------------------------------


def test_seed_builds_a_shop_in_every_state(engine):
    with session_scope(engine) as s:
        statuses = dict(s.execute(select(Order.status, func.count()).group_by(Order.status)).all())
        assert set(statuses) == {"unpaid", "paid", "shipped", "delivered", "cancelled", "refunded"}
        assert s.execute(select(func.count()).select_from(Product)).scalar_one() >= 200
        shipped_without_tracking = s.execute(
            select(func.count()).select_from(Order).outerjoin(Shipment).where(
                Order.status.in_(["shipped", "delivered"]), Shipment.id.is_(None))
        ).scalar_one()
        assert shipped_without_tracking == 0
        assert s.execute(select(func.count()).select_from(TrackingEvent)).scalar_one() > 0


def test_seed_is_deterministic_and_does_not_overwrite(engine, shop):
    before = count(engine, "select count(*) from orders")
    assert seed(engine, orders=80, now=NOW) is False  # already seeded: untouched
    assert count(engine, "select count(*) from orders") == before
    first = shop.get_order(SHIPPED)
    assert seed(engine, orders=80, now=NOW, reset=True) is True
    again = shop.get_order(SHIPPED)
    assert (first.total_cents, first.items, first.address) == (again.total_cents, again.items, again.address)


# -- who may see an order --------------------------------------------------------


def test_only_the_last_four_digits_on_the_order_prove_ownership(shop):
    assert shop.verify_order_owner(SHIPPED, "5678")
    assert not shop.verify_order_owner(SHIPPED, "1234")
    assert not shop.verify_order_owner(OTHER, "5678")  # 张三's digits on 李四's order
    assert shop.verify_order_owner(OTHER, "1234")


@pytest.mark.parametrize("order_id", ["2611019999999999", "' OR '1'='1", "2611010000000001' --", "", "x" * 10000])
def test_unknown_or_hostile_order_ids_prove_nothing(shop, order_id):
    assert not shop.verify_order_owner(order_id, "5678")
    assert shop.get_order(order_id) is None


POLICY = ProofPolicy()


def test_wrong_proofs_lock_a_conversation_an_order_an_address_and_everyone(shop):
    # per conversation: 3 wrong in 10 minutes
    for n in range(3):
        shop.record_verification("attacker", f"26110100000000{n + 10:02d}", False, now=NOW)
    shop.record_verification("someone-else", SHIPPED, False, now=NOW)
    assert shop.proof_lock("attacker", None, None, POLICY, NOW) == "conversation"
    assert shop.proof_lock("attacker", None, None, POLICY, NOW + timedelta(minutes=11)) is None
    # per order, from anywhere: 5 in a day, then a wait that doubles
    for n in range(4):
        shop.record_verification(f"rotating-{n}", PAID, False, now=NOW)
    assert shop.proof_lock("fresh", PAID, None, POLICY, NOW) is None  # 4 so far
    shop.record_verification("rotating-4", PAID, False, now=NOW)
    assert shop.proof_lock("fresh", PAID, None, POLICY, NOW) == "order"
    assert shop.proof_lock("fresh", PAID, None, POLICY, NOW + timedelta(minutes=16)) is None  # 15 min after the 5th
    shop.record_verification("rotating-5", PAID, False, now=NOW + timedelta(minutes=16))
    assert shop.proof_lock("fresh", PAID, None, POLICY, NOW + timedelta(minutes=40)) == "order"  # now 30 min
    assert shop.proof_lock("fresh", SHIPPED, None, POLICY, NOW) is None  # another order is not affected
    # per client address, across orders and conversations
    for n in range(20):
        shop.record_verification(f"spray-{n}", f"2699{n:012d}", False, client_key="addr", now=NOW)
    assert shop.proof_lock("fresh", RETURNABLE, "addr", POLICY, NOW) == "client"
    assert shop.proof_lock("fresh", RETURNABLE, "other-addr", POLICY, NOW) is None
    # everyone: a wave of failures pauses every proof
    wave = ProofPolicy(everyone=30)
    assert shop.proof_lock("innocent", RETURNABLE, "other-addr", wave, NOW) == "everyone"
    # a success is not a failure
    shop.record_verification("honest", RETURNABLE, True, now=NOW)
    assert shop.proof_lock("honest", RETURNABLE, None, POLICY, NOW) is None


def test_channel_identities_name_a_customer(shop):
    zhang = shop.customer_for_identity("telegram", "10001")
    assert zhang is not None
    assert shop.customer_for_identity("wechat", "o-demo-openid-zhangsan") == zhang
    assert shop.customer_for_identity("web", "demo-web-user") is None  # a page can claim any id: never linked
    assert shop.customer_for_identity("telegram", "nobody") is None
    assert shop.order_belongs_to(SHIPPED, zhang)
    assert not shop.order_belongs_to(OTHER, zhang)
    recent = [o.id for o in shop.orders_of_customer(zhang, limit=5)]
    assert len(recent) == 5 and OTHER not in recent
    assert recent[0] in (UNPAID, PAID)  # newest first


def test_tracking_timeline_and_expected_delivery(shop):
    shipment = shop.tracking(SHIPPED)
    assert shipment.carrier and shipment.tracking_no
    assert len(shipment.events) >= 3
    assert [e.time for e in shipment.events] == sorted(e.time for e in shipment.events)
    assert shipment.expected_delivery > shipment.events[0].time
    assert shop.tracking(PAID) is None


# -- changing orders -------------------------------------------------------------


def test_cancel_an_unshipped_order_refunds_and_restocks(shop, engine):
    product_id = count(engine, "select product_id from order_items where order_id = :o", o=PAID)
    stock = count(engine, "select stock from products where id = :p", p=product_id)
    assert shop.cancel_order(PAID).ok
    assert shop.get_order(PAID).status == "cancelled"
    assert count(engine, "select stock from products where id = :p", p=product_id) == stock + 1
    assert count(engine, "select count(*) from payments where order_id = :o and status = 'refunded'", o=PAID) == 1
    again = shop.cancel_order(PAID)
    assert (again.ok, again.reason) == (False, "already_cancelled")


@pytest.mark.parametrize("order_id,reason", [(SHIPPED, "already_shipped"), (RETURNABLE, "already_delivered"),
                                             ("2611019999999999", "not_found")])
def test_shipped_or_unknown_orders_cannot_be_cancelled_or_readdressed(shop, order_id, reason):
    assert shop.cancel_order(order_id).reason == reason
    assert shop.change_address(order_id, "北京市朝阳区建国路1号").reason == reason
    if reason != "not_found":
        assert shop.get_order(order_id).status != "cancelled"


def test_change_address_of_an_unshipped_order(shop):
    assert shop.change_address(UNPAID, "北京市朝阳区建国路1号 王五 13700000000").ok
    assert shop.get_order(UNPAID).address.startswith("北京市朝阳区建国路1号")


# -- returns, exchanges, refunds ---------------------------------------------------


@pytest.mark.parametrize(
    "order_id,kind,ok,reason",
    [
        (RETURNABLE, "return", True, None),
        (RETURNABLE, "exchange", True, None),
        (LATE, "return", False, "window_expired"),
        (FOOD, "return", False, "not_returnable"),
        (SHIPPED, "return", False, "not_delivered"),
        (RETURNED, "return", False, "already_requested"),
        (PAID, "refund", True, None),
        (SHIPPED, "refund", True, None),
        (UNPAID, "refund", False, "not_paid"),
        (RETURNABLE, "refund", False, "refund_needs_return"),
    ],
)
def test_aftersale_eligibility(shop, order_id, kind, ok, reason):
    verdict = shop.check_aftersale_eligibility(order_id, kind, NOW)
    assert (verdict.ok, verdict.reason) == (ok, reason)


def test_a_return_request_gets_a_number_and_blocks_a_second_one(shop):
    number = shop.create_aftersale(RETURNABLE, "return", "尺码偏小", now=NOW)
    assert number.startswith("AS") and len(number) == 10
    status = shop.aftersale_status(number)
    assert (status.order_id, status.kind, status.status) == (RETURNABLE, "return", "requested")
    assert status.refund_cents == shop.get_order(RETURNABLE).total_cents
    assert shop.aftersale_for_order(RETURNABLE, "return").id == number
    assert shop.check_aftersale_eligibility(RETURNABLE, "exchange", NOW).reason == "already_requested"
    with pytest.raises(ValueError):
        shop.create_aftersale(RETURNABLE, "return", "again", now=NOW)


def test_the_demo_refund_reports_its_progress(shop):
    status = shop.aftersale_status("as00000001")
    assert (status.order_id, status.status) == (RETURNED, "received")
    assert shop.aftersale_status("AS99999999") is None


# -- tickets, products, ratings, handoff -------------------------------------------


def test_ticket_priorities_and_sla(shop):
    complaint = shop.create_ticket("complaint", "快递员态度差", "shopper: ...", "web", "k1", now=NOW)
    aftersale = shop.create_ticket("aftersale", "refund late", "", "telegram", "k2", now=NOW)
    other = shop.create_ticket("whatever", "?", "", "email", "k3", now=NOW)
    assert complaint.priority < aftersale.priority < other.priority
    assert other.category == "other"
    assert complaint.sla_due_at - NOW == timedelta(hours=4)
    assert shop.get_ticket(complaint.id.lower()).status == "open"
    shop.set_ticket_status(complaint.id, "resolved")
    assert shop.get_ticket(complaint.id).status == "resolved"
    assert shop.get_ticket("TK99999999") is None


def test_products_by_catalogue_name_and_live_stock(shop, engine):
    variants = shop.find_products("airpods pro")
    assert variants and all(p.base_name == "AirPods Pro" for p in variants)
    assert variants[0].warranty_months == 12 and variants[0].price_cents > 0
    with engine.begin() as db:
        db.execute(text("update products set stock = 7 where id = :p"), {"p": variants[0].id})
    assert shop.product_stock(variants[0].id) == 7
    assert shop.find_products("100%_不存在的商品") == []
    assert shop.find_products("") == []


def test_ratings_are_stored_and_bounded(shop, engine):
    shop.record_rating("k", "web", 4, "挺快的", "cancel_order")
    assert count(engine, "select score from satisfaction_ratings where conversation_key = 'k'") == 4
    with pytest.raises(ValueError):
        shop.record_rating("k", "web", 9)
    assert count(engine, "select count(*) from satisfaction_ratings") == 1  # nothing half-written
