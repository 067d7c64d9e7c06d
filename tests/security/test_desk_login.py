"""Attack 11, the desk's login: anyone could keep an agent locked out by
failing logins with their name, unknown names were never locked (so the
lock revealed which names exist), scrypt cost was N=2^14, a password change
did not end other sessions, and looking at a conversation or a customer
was not audited. Over the desk's HTTP API of the running Kefu, the client
address coming from X-Real-IP as behind nginx."""
from __future__ import annotations

import uuid

import pytest
import requests
from sqlalchemy import create_engine, text

from tests.security.conftest import AGENT_PASSWORD, desk_agent, handoff_of, unique

pytestmark = pytest.mark.e2e


def _login(outsider, username: str, password: str, client: str) -> requests.Response:
    """A login as nginx forwards it: the client's address in X-Real-IP."""
    return requests.post(f"{outsider.desk}/api/login", json={"username": username, "password": password},
                         headers={"X-Requested-With": "XMLHttpRequest", "X-Real-IP": client}, timeout=30)


def test_failed_logins_lock_a_name_without_revealing_it_or_locking_the_agent_out(outsider):
    name, ghost = f"agent{uuid.uuid4().hex[:6]}", f"ghost{uuid.uuid4().hex[:6]}"
    desk_agent(outsider, name).post(f"{outsider.desk}/api/logout", timeout=10)
    attacker, office = "203.0.113.150", "198.51.100.150"
    answers = {who: [_login(outsider, who, "wrong-password", attacker).status_code for _ in range(6)]
               for who in (name, ghost)}
    assert answers[name] == answers[ghost] == [401] * 5 + [429]  # the same for a real and an unknown name
    assert _login(outsider, name, AGENT_PASSWORD, attacker).status_code == 429  # locked, from there
    for _ in range(5):  # knocking on the locked door does not keep it locked longer
        assert _login(outsider, name, "wrong-password", attacker).status_code == 429
    assert _login(outsider, name, AGENT_PASSWORD, office).status_code == 200  # the agent is not locked out
    with create_engine(outsider.shop_url).connect() as db:
        details = [r[0] or "" for r in db.execute(text("select detail from audit_log where action like 'login%'"))]
    assert not any(ghost in d or name in d for d in details)  # the names typed are not kept


def test_passwords_are_scrypt_2_17_and_a_change_ends_other_sessions(outsider):
    name = f"agent{uuid.uuid4().hex[:6]}"
    laptop, phone = desk_agent(outsider, name), desk_agent(outsider, name)
    with create_engine(outsider.shop_url).connect() as db:
        stored = db.execute(text("select password_hash from agents where username = :u"), {"u": name}).scalar()
    assert stored.startswith(f"scrypt${2**17}$8$1$")
    changed = laptop.post(f"{outsider.desk}/api/password",
                          json={"old_password": AGENT_PASSWORD, "new_password": "a-new-password-2"}, timeout=30)
    assert changed.status_code == 200
    assert laptop.get(f"{outsider.desk}/api/me", timeout=10).status_code == 200
    assert phone.get(f"{outsider.desk}/api/me", timeout=10).status_code == 401  # the other session ended
    wrong = laptop.post(f"{outsider.desk}/api/password",
                        json={"old_password": "not-it", "new_password": "another-password-3"}, timeout=30)
    assert wrong.status_code == 403


def test_every_look_at_a_conversation_or_customer_is_audited(outsider):
    agent = desk_agent(outsider, f"auditor{uuid.uuid4().hex[:6]}")
    sender = unique("audited")
    outsider.say(sender, "转人工")
    detail = handoff_of(agent, outsider, f"rest:{sender}")
    with create_engine(outsider.shop_url).connect() as db:
        audited = db.execute(text("select action, target from audit_log where target = :t"),
                             {"t": f"handoff:{detail['handoff']['id']}"}).all()
    assert ("view_conversation", f"handoff:{detail['handoff']['id']}") in [tuple(a) for a in audited]
