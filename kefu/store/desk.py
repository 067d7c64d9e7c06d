"""The human-agent desk's data layer: the handoff queue, agents and their
sessions, the messages of handed-off conversations, canned replies, the
audit log and the desk's metrics.

Like :class:`kefu.store.shop.ShopStore`, every method is one transaction and
returns frozen dataclasses (never ORM objects). The Rasa actions call
``queue_handoff``, ``active_handoff``, ``add_shopper_message`` and
``pop_agent_messages``; the desk web app (``kefu.desk``) calls the rest.

Assignment (客服轮岗) is automatic: a waiting handoff goes to the *present*
agent (online, seen within ``presence_seconds``) below their cap with the
fewest open chats, ties broken by the least recently assigned. Every change
of a handoff is a conditional UPDATE, so several desk processes and the
action server can run side by side without assigning a chat twice.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import delete, func, or_, select, update
from sqlalchemy.engine import Engine

from kefu.core import ids
from kefu.core.ids import conversation_key
from kefu.store.db import session_scope
from kefu.store.limits import Limits, locked_until
from kefu.store.models import (
    Agent,
    AuditEntry,
    CannedReply,
    DeskSession,
    Handoff,
    HandoffMessage,
    Ticket,
)
from kefu.core.clock import from_db, to_db, utcnow

OPEN = ("waiting", "assigned")
_MAX_TEXT = 4000
#: failed logins of one name from one address that lock it (for that
#: address only: nobody elsewhere can lock an agent out), with a wait that
#: doubles from LOCK_BASE with every further failure, up to LOCK_MAX
MAX_FAILED_LOGINS = 5
LOCK_WINDOW = timedelta(minutes=15)
LOCK_BASE = timedelta(minutes=1)
LOCK_MAX = timedelta(hours=1)
#: failed logins from one address, whatever the names (password spraying)
MAX_FAILED_LOGINS_PER_ADDRESS = 30
DEFAULT_PRESENCE_SECONDS = 90

# -- passwords (stdlib scrypt: no extra dependency) ---------------------------------------

#: scrypt cost: N = 2^17 (128 MiB, ~0.3 s), as OWASP advises; older hashes
#: are upgraded at the next successful login
_SCRYPT_N, _SCRYPT_R, _SCRYPT_P = 2**17, 8, 1
_SCRYPT_MAXMEM = 256 * 1024 * 1024


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64); a fresh salt each time."""
    if not password:
        raise ValueError("a password must not be empty")
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode("utf-8"), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=32,
                            maxmem=_SCRYPT_MAXMEM)
    b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${b64(salt)}${b64(digest)}"


def verify_password(password: str, stored: str) -> bool:
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt" or int(n) > 2**20:
            return False
        expected = base64.b64decode(digest)
        actual = hashlib.scrypt(
            (password or "").encode("utf-8"), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
            dklen=len(expected), maxmem=_SCRYPT_MAXMEM,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash is weaker than what :func:`hash_password` makes."""
    parts = stored.split("$")
    return len(parts) != 6 or parts[0] != "scrypt" or (int(parts[1]), int(parts[2]), int(parts[3])) < (
        _SCRYPT_N, _SCRYPT_R, _SCRYPT_P)


@functools.lru_cache(maxsize=1)
def _dummy_hash() -> str:
    """What an unknown name is checked against, so that it takes as long as
    a known one (made on first use: it costs what a login costs)."""
    return hash_password("kefu-desk-timing-equaliser")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- values handed to callers ---------------------------------------------------------------


@dataclass(frozen=True)
class HandoffView:
    id: int
    conversation_id: str
    channel: str
    reason: str
    summary: Any  # the dict the action gave, or its text
    status: str  # waiting | assigned | closed
    language: str
    customer_id: Optional[int]
    agent_id: Optional[int]
    agent_name: Optional[str]
    created_at: datetime
    assigned_at: Optional[datetime]
    first_response_at: Optional[datetime]
    closed_at: Optional[datetime]
    position: Optional[int] = None  # 1-based place among the waiting, when waiting


@dataclass(frozen=True)
class AgentView:
    id: int
    username: str
    display_name: str
    max_concurrent: int
    online: bool
    present: bool  # online and seen recently: eligible for assignment
    open_chats: int
    last_seen_at: Optional[datetime]


@dataclass(frozen=True)
class MessageView:
    id: int
    handoff_id: int
    sender: str  # shopper | agent | system
    agent_id: Optional[int]
    text: str
    created_at: datetime
    delivered: bool


@dataclass(frozen=True)
class CannedView:
    id: int
    title: str
    text_zh: str
    text_en: str

    def text(self, language: str) -> str:
        return self.text_en if language == "en" else self.text_zh


@dataclass(frozen=True)
class AuditView:
    id: int
    agent_id: Optional[int]
    action: str
    target: Optional[str]
    detail: Optional[str]
    created_at: datetime


@dataclass(frozen=True)
class AgentLoad:
    agent_id: int
    display_name: str
    open_chats: int
    handled: int  # closed since the start of the metrics window
    present: bool


@dataclass(frozen=True)
class Metrics:
    since: datetime
    waiting: int
    assigned: int
    longest_wait_seconds: Optional[float]  # the oldest waiting handoff, now
    current_avg_wait_seconds: Optional[float]  # average age of the waiting ones, now
    avg_wait_seconds: Optional[float]  # queued -> assigned, for those assigned in the window
    avg_first_response_seconds: Optional[float]  # queued -> first agent reply, in the window
    handled_total: int
    per_agent: List[AgentLoad] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """The result of an agent's action on a handoff."""

    ok: bool
    reason: Optional[str] = None  # not_found | forbidden | taken | closed | no_agent
    handoff: Optional[HandoffView] = None


class Forbidden(Exception):
    pass


DEFAULT_CANNED: Sequence[Tuple[str, str, str]] = (
    ("问候 Greeting", "您好，我是人工客服，很高兴为您服务。请问有什么可以帮您？",
     "Hello, this is a member of our customer-service team. How can I help you?"),
    ("请稍等 One moment", "好的，我正在为您查询，请稍等一两分钟。",
     "Thank you, I'm looking into it now - please give me a minute or two."),
    ("核实订单 Verify order", "为了保护您的信息安全，请提供订单号和下单手机号的后四位。",
     "To protect your account, please send the order number and the last 4 digits of the phone number on it."),
    ("物流催促 Chase delivery", "我已经联系快递加急处理，一有新的物流进展会马上通知您。",
     "I've asked the carrier to prioritise your parcel and will let you know as soon as it moves."),
    ("退款说明 Refund timing", "退款已提交，原路退回，一般1-3个工作日到账（信用卡可能需要3-7个工作日）。",
     "The refund has been submitted to your original payment method and usually arrives in 1-3 working days "
     "(3-7 for credit cards)."),
    ("结束语 Closing", "请问还有其他可以帮您的吗？如果没有，我先结束本次服务，祝您生活愉快！",
     "Is there anything else I can help with? If not, I'll close this chat now - have a nice day!"),
)


# -- the store ------------------------------------------------------------------------------


class DeskStore:
    def __init__(self, engine: Engine, presence_seconds: int = DEFAULT_PRESENCE_SECONDS) -> None:
        self.engine = engine
        self.presence = timedelta(seconds=presence_seconds)

    # ---- what the Rasa actions call

    def queue_handoff(
        self,
        conversation_id: str,
        channel: str,
        reason: str,
        summary: Any,
        language: Optional[str] = None,
        customer_id: Optional[int] = None,
    ) -> int:
        """Queue the conversation for a human, once per open handoff, and
        return its 1-based place among the waiting (an open handoff already
        with an agent counts as 1: served next). Then assigns waiting
        handoffs to present agents."""
        text = summary if isinstance(summary, str) else json.dumps(summary, ensure_ascii=False, default=str)
        if language is None and isinstance(summary, dict):
            language = summary.get("language")
        language = "en" if language == "en" else "zh"
        with session_scope(self.engine) as s:
            mine = _open_handoff(s, conversation_id)
            if mine is None:
                mine = Handoff(
                    conversation_id=conversation_id, channel=channel[:16], reason=(reason or "")[:32],
                    summary=text[:_MAX_TEXT], status="waiting", created_at=to_db(utcnow()),
                    language=language, customer_id=customer_id,
                )
                s.add(mine)
                s.flush()
            position = _position(s, mine)
        self.assign_waiting()
        return position

    def active_handoff(self, conversation_id: str) -> Optional[HandoffView]:
        """The conversation's open handoff (waiting or assigned), or None."""
        with session_scope(self.engine) as s:
            handoff = _open_handoff(s, conversation_id)
            return _handoff_view(s, handoff, with_position=True) if handoff is not None else None

    def add_shopper_message(self, conversation_id: str, text: str) -> None:
        """Keep what the shopper wrote during the handoff (no open handoff:
        nothing is kept)."""
        with session_scope(self.engine) as s:
            handoff = _open_handoff(s, conversation_id)
            if handoff is not None and text:
                s.add(HandoffMessage(handoff_id=handoff.id, sender="shopper", text=text[:_MAX_TEXT],
                                     created_at=to_db(utcnow()), delivered=True))

    def pop_agent_messages(self, conversation_id: str) -> List[str]:
        """The agents' undelivered texts to this conversation, oldest first,
        now marked delivered (each is returned once)."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(HandoffMessage)
                .join(Handoff, Handoff.id == HandoffMessage.handoff_id)
                .where(Handoff.conversation_id == conversation_id, HandoffMessage.sender == "agent",
                       HandoffMessage.delivered.is_(False))
                .order_by(HandoffMessage.id)
            ).scalars().all()
            texts = []
            for row in rows:
                taken = s.execute(
                    update(HandoffMessage)
                    .where(HandoffMessage.id == row.id, HandoffMessage.delivered.is_(False))
                    .values(delivered=True)
                    .execution_options(synchronize_session=False)
                ).rowcount
                if taken:
                    texts.append(row.text)
            return texts

    # ---- agents

    def add_agent(self, username: str, display_name: str, password: str, max_concurrent: int = 3) -> int:
        username = username.strip().lower()
        if not username or len(username) > 64:
            raise ValueError("a username is 1 to 64 characters")
        if max_concurrent < 0:
            raise ValueError("max_concurrent must be >= 0")
        with session_scope(self.engine) as s:
            agent = Agent(username=username, display_name=display_name.strip()[:64] or username,
                          password_hash=hash_password(password), max_concurrent=max_concurrent, online=False,
                          created_at=to_db(utcnow()))
            s.add(agent)
            s.flush()
            return agent.id

    def set_password(self, username: str, password: str) -> None:
        """A new password (the operator's ``make agent``); every session of
        the agent ends, so a stolen cookie dies with the old password."""
        with session_scope(self.engine) as s:
            agent = s.execute(select(Agent).where(Agent.username == username.strip().lower())).scalar_one()
            agent.password_hash = hash_password(password)
            s.execute(delete(DeskSession).where(DeskSession.agent_id == agent.id))
            _audit(s, agent.id, "password_set", f"agent:{agent.id}", "all sessions ended")

    def change_password(self, agent_id: int, old: str, new: str, current_token: Optional[str]) -> bool:
        """The agent's own change (needs the old password); the agent's
        other sessions end, the one that asked stays."""
        if not new or len(new) < 8:
            raise ValueError("a password has at least 8 characters")
        with session_scope(self.engine) as s:
            agent = s.get(Agent, agent_id)
            if agent is None or not verify_password(old, agent.password_hash):
                _audit(s, agent_id, "password_change_failed", f"agent:{agent_id}", None)
                return False
            agent.password_hash = hash_password(new)
            keep = token_hash(current_token) if current_token else ""
            s.execute(delete(DeskSession).where(DeskSession.agent_id == agent_id, DeskSession.token_hash != keep))
            _audit(s, agent_id, "password_changed", f"agent:{agent_id}", "other sessions ended")
            return True

    def agent(self, agent_id: int) -> Optional[AgentView]:
        with session_scope(self.engine) as s:
            agent = s.get(Agent, agent_id)
            return self._agent_view(s, agent) if agent is not None else None

    def agents(self) -> List[AgentView]:
        with session_scope(self.engine) as s:
            return [self._agent_view(s, a) for a in s.execute(select(Agent).order_by(Agent.id)).scalars()]

    def set_online(self, agent_id: int, online: bool) -> None:
        """Accepting chats or paused; coming online takes waiting chats."""
        with session_scope(self.engine) as s:
            s.execute(update(Agent).where(Agent.id == agent_id)
                      .values(online=bool(online), last_seen_at=to_db(utcnow())))
        if online:
            self.assign_waiting()

    def touch(self, agent_id: int) -> None:
        with session_scope(self.engine) as s:
            s.execute(update(Agent).where(Agent.id == agent_id).values(last_seen_at=to_db(utcnow())))

    # ---- sessions and login

    def login(self, username: str, password: str, session_hours: float, client_address: Optional[str] = None,
              now: Optional[datetime] = None) -> Tuple[Optional[str], Optional[AgentView], str]:
        """(token, agent, outcome): outcome is ok | bad_credentials | locked.

        Failures are counted per (name, client address), known names and
        unknown ones alike, so the answers and the lock say nothing about
        which names exist and nobody elsewhere can lock an agent out; a
        refusal while locked is not counted again (the lock would otherwise
        feed itself). Every attempt is audited; the name itself is not
        written."""
        username = (username or "").strip().lower()[:64]
        now = now or utcnow()
        limits = Limits(self.engine)
        pair = ids.keyed_hash(f"{username}\x00{client_address or ''}", "desk-login")
        address = ids.keyed_hash(client_address or "", "desk-login-address")
        since = now - LOCK_WINDOW
        locked = [
            locked_until(limits.times("desk_login", pair, since), MAX_FAILED_LOGINS, LOCK_BASE, LOCK_MAX),
            locked_until(limits.times("desk_login_address", address, since), MAX_FAILED_LOGINS_PER_ADDRESS,
                         LOCK_BASE, LOCK_MAX),
        ]
        name_key = ids.keyed_hash(username, "desk-name")[:12]
        if any(until is not None and until > now for until in locked):
            self.audit(None, "login_locked", None, f"name {name_key}")
            return None, None, "locked"
        with session_scope(self.engine) as s:
            agent = s.execute(select(Agent).where(Agent.username == username)).scalar_one_or_none()
            valid = verify_password(password, agent.password_hash if agent else _dummy_hash()) and agent is not None
            if not valid:
                _audit(s, agent.id if agent else None, "login_failed", f"agent:{agent.id}" if agent else None,
                       f"name {name_key}")
        if not valid:
            limits.record("desk_login", pair, now)
            limits.record("desk_login_address", address, now)
            return None, None, "bad_credentials"
        with session_scope(self.engine) as s:
            agent = s.get(Agent, agent.id)
            if needs_rehash(agent.password_hash):
                agent.password_hash = hash_password(password)
            token = secrets.token_urlsafe(32)
            s.add(DeskSession(token_hash=token_hash(token), agent_id=agent.id, created_at=to_db(now),
                              expires_at=to_db(now + timedelta(hours=session_hours))))
            agent.online, agent.last_seen_at = True, to_db(now)
            # drop this agent's expired sessions while here
            s.execute(delete(DeskSession).where(DeskSession.agent_id == agent.id, DeskSession.expires_at < to_db(now)))
            _audit(s, agent.id, "login", f"agent:{agent.id}", None)
            s.flush()
            view = self._agent_view(s, agent)
        limits.forget("desk_login", pair)
        self.assign_waiting()
        return token, view, "ok"

    def session_agent(self, token: Optional[str]) -> Optional[AgentView]:
        """The agent of a valid, unexpired session (and note they are here)."""
        if not token:
            return None
        now = utcnow()
        with session_scope(self.engine) as s:
            row = s.get(DeskSession, token_hash(token))
            if row is None or row.expires_at <= to_db(now):
                return None
            agent = s.get(Agent, row.agent_id)
            if agent.last_seen_at is None or agent.last_seen_at < to_db(now - timedelta(seconds=10)):
                agent.last_seen_at = to_db(now)
            return self._agent_view(s, agent)

    def logout(self, token: str) -> None:
        with session_scope(self.engine) as s:
            row = s.get(DeskSession, token_hash(token))
            if row is None:
                return
            agent_id = row.agent_id
            s.delete(row)
            others = s.execute(select(func.count()).where(DeskSession.agent_id == agent_id,
                                                          DeskSession.expires_at > to_db(utcnow()))).scalar_one()
            if not others:
                s.execute(update(Agent).where(Agent.id == agent_id).values(online=False))
            _audit(s, agent_id, "logout", f"agent:{agent_id}", None)

    # ---- the queue

    def queue(self, agent_id: int) -> Dict[str, List[HandoffView]]:
        """What an agent may see: the waiting handoffs (oldest first) and
        their own open ones."""
        with session_scope(self.engine) as s:
            waiting = s.execute(select(Handoff).where(Handoff.status == "waiting").order_by(Handoff.id)).scalars().all()
            mine = s.execute(
                select(Handoff).where(Handoff.status == "assigned", Handoff.agent_id == agent_id).order_by(Handoff.assigned_at, Handoff.id)
            ).scalars().all()
            names = _agent_names(s)
            return {
                "waiting": [_handoff_view(s, h, names=names, position=i + 1) for i, h in enumerate(waiting)],
                "mine": [_handoff_view(s, h, names=names) for h in mine],
            }

    def handoff(self, handoff_id: int) -> Optional[HandoffView]:
        with session_scope(self.engine) as s:
            handoff = s.get(Handoff, handoff_id)
            return _handoff_view(s, handoff, with_position=True) if handoff is not None else None

    def handoff_for_agent(self, handoff_id: int, agent_id: int) -> HandoffView:
        """The handoff if the agent may see it (waiting, or theirs); raises
        KeyError (no such handoff) or Forbidden."""
        view = self.handoff(handoff_id)
        if view is None:
            raise KeyError(handoff_id)
        if not may_see(view, agent_id):
            raise Forbidden(handoff_id)
        return view

    def messages(self, handoff_id: int) -> List[MessageView]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(HandoffMessage).where(HandoffMessage.handoff_id == handoff_id)
                             .order_by(HandoffMessage.id)).scalars()
            return [_message_view(m) for m in rows]

    def assign_waiting(self, now: Optional[datetime] = None) -> List[Tuple[int, int]]:
        """Give waiting handoffs, oldest first, to present agents below their
        cap: fewest open chats first, then least recently assigned.
        Returns the (handoff id, agent id) pairs made."""
        now = now or utcnow()
        made: List[Tuple[int, int]] = []
        with session_scope(self.engine) as s:
            waiting = s.execute(select(Handoff.id).where(Handoff.status == "waiting").order_by(Handoff.id)).scalars().all()
            if not waiting:
                return made
            candidates = self._present_agents(s, now)
            for handoff_id in waiting:
                eligible = [c for c in candidates if c[1] < c[2]]
                if not eligible:
                    break
                eligible.sort(key=lambda c: (c[1], c[3] or datetime.min, c[0]))
                agent_id = eligible[0][0]
                taken = s.execute(
                    update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "waiting")
                    .values(status="assigned", agent_id=agent_id, assigned_at=to_db(now))
                    .execution_options(synchronize_session=False)
                ).rowcount
                if not taken:
                    continue
                s.execute(update(Agent).where(Agent.id == agent_id).values(last_assigned_at=to_db(now)))
                _audit(s, None, "auto_assign", f"handoff:{handoff_id}", f"agent:{agent_id}")
                made.append((handoff_id, agent_id))
                candidates = [(c[0], c[1] + 1, c[2], to_db(now)) if c[0] == agent_id else c for c in candidates]
        return made

    def claim(self, handoff_id: int, agent_id: int) -> Outcome:
        """An agent takes a waiting handoff (their own choice: no cap)."""
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff = s.get(Handoff, handoff_id)
            if handoff is None:
                return Outcome(False, "not_found")
            taken = s.execute(
                update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "waiting")
                .values(status="assigned", agent_id=agent_id, assigned_at=to_db(now))
                .execution_options(synchronize_session=False)
            ).rowcount
            if not taken:
                s.refresh(handoff)
                if handoff.status == "closed":
                    return Outcome(False, "closed")
                return Outcome(False, "already_yours" if handoff.agent_id == agent_id else "taken")
            s.execute(update(Agent).where(Agent.id == agent_id).values(last_assigned_at=to_db(now)))
            _audit(s, agent_id, "claim", f"handoff:{handoff_id}", None)
            s.refresh(handoff)
            return Outcome(True, handoff=_handoff_view(s, handoff))

    def transfer(self, handoff_id: int, agent_id: int, to_agent_id: Optional[int]) -> Outcome:
        """Hand an assigned chat to another agent, or back to the queue
        (``to_agent_id`` None). Only the assigned agent may transfer."""
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff, refused = _assigned_to(s, handoff_id, agent_id)
            if refused:
                return refused
            if to_agent_id == agent_id:
                return Outcome(False, "same_agent")
            if to_agent_id is not None:
                target = s.get(Agent, to_agent_id)
                if target is None:
                    return Outcome(False, "no_agent")
                values = dict(agent_id=to_agent_id, assigned_at=to_db(now))
                note = f"转接给 {target.display_name} / transferred to {target.display_name}"
            else:
                values = dict(agent_id=None, status="waiting", assigned_at=None)
                note = "转回排队 / returned to the queue"
            moved = s.execute(
                update(Handoff).where(Handoff.id == handoff_id, Handoff.status == "assigned", Handoff.agent_id == agent_id)
                .values(**values).execution_options(synchronize_session=False)
            ).rowcount
            if not moved:
                return Outcome(False, "forbidden")
            if to_agent_id is not None:
                s.execute(update(Agent).where(Agent.id == to_agent_id).values(last_assigned_at=to_db(now)))
            s.add(HandoffMessage(handoff_id=handoff_id, sender="system", agent_id=agent_id, text=note,
                                 created_at=to_db(now), delivered=True))
            _audit(s, agent_id, "transfer", f"handoff:{handoff_id}",
                   f"agent:{to_agent_id}" if to_agent_id is not None else "queue")
            s.refresh(handoff)
            view = _handoff_view(s, handoff)
        if to_agent_id is None:
            self.assign_waiting()
        return Outcome(True, handoff=view)

    def reply(self, handoff_id: int, agent_id: int, text: str) -> Outcome:
        """Store the agent's reply, undelivered (the Rasa action sends it)."""
        text = (text or "").strip()
        if not text:
            return Outcome(False, "empty")
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff, refused = _assigned_to(s, handoff_id, agent_id)
            if refused:
                return refused
            s.add(HandoffMessage(handoff_id=handoff_id, sender="agent", agent_id=agent_id, text=text[:_MAX_TEXT],
                                 created_at=to_db(now), delivered=False))
            if handoff.first_response_at is None:
                handoff.first_response_at = to_db(now)
            _audit(s, agent_id, "reply", f"handoff:{handoff_id}", f"{len(text)} chars")
            s.flush()
            return Outcome(True, handoff=_handoff_view(s, handoff))

    def resolve(self, handoff_id: int, agent_id: int) -> Outcome:
        """Close the handoff (the desk then hands the chat back to the bot)."""
        now = utcnow()
        with session_scope(self.engine) as s:
            handoff, refused = _assigned_to(s, handoff_id, agent_id)
            if refused:
                return refused
            handoff.status, handoff.closed_at = "closed", to_db(now)
            _audit(s, agent_id, "resolve", f"handoff:{handoff_id}", None)
            s.flush()
            view = _handoff_view(s, handoff)
        self.assign_waiting()
        return Outcome(True, handoff=view)

    def audit(self, agent_id: Optional[int], action: str, target: Optional[str] = None,
              detail: Optional[str] = None) -> None:
        with session_scope(self.engine) as s:
            _audit(s, agent_id, action, target, detail)

    def audit_entries(self, limit: int = 200) -> List[AuditView]:
        with session_scope(self.engine) as s:
            rows = s.execute(select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)).scalars()
            return [AuditView(a.id, a.agent_id, a.action, a.target, a.detail, from_db(a.created_at)) for a in rows]

    # ---- what is beside the conversation

    def tickets_for(self, conversation_id: str, customer_id: Optional[int], limit: int = 10) -> List[Dict[str, Any]]:
        key = conversation_key(conversation_id)
        with session_scope(self.engine) as s:
            where = Ticket.conversation_key == key
            if customer_id is not None:
                where = or_(where, Ticket.customer_id == customer_id)
            rows = s.execute(select(Ticket).where(where).order_by(Ticket.number.desc()).limit(limit)).scalars()
            return [
                {"id": t.id, "category": t.category, "priority": t.priority, "status": t.status,
                 "summary": t.summary, "order_id": t.order_id, "created_at": from_db(t.created_at),
                 "sla_due_at": from_db(t.sla_due_at)}
                for t in rows
            ]

    def canned_replies(self) -> List[CannedView]:
        with session_scope(self.engine) as s:
            return [CannedView(c.id, c.title, c.text_zh, c.text_en)
                    for c in s.execute(select(CannedReply).order_by(CannedReply.id)).scalars()]

    def seed_canned_replies(self) -> int:
        """Write the default canned replies if there are none; how many."""
        with session_scope(self.engine) as s:
            if s.execute(select(func.count()).select_from(CannedReply)).scalar_one():
                return 0
            for title, zh, en in DEFAULT_CANNED:
                s.add(CannedReply(title=title, text_zh=zh, text_en=en))
            return len(DEFAULT_CANNED)

    # ---- live updates and metrics

    def snapshot(self) -> Tuple[Dict[int, Tuple[str, Optional[int]]], int]:
        """Open handoffs {id: (status, agent id)} and the newest message id:
        the desk compares two of them to push changes."""
        with session_scope(self.engine) as s:
            rows = s.execute(select(Handoff.id, Handoff.status, Handoff.agent_id).where(Handoff.status.in_(OPEN))).all()
            newest = s.execute(select(func.max(HandoffMessage.id))).scalar_one() or 0
            return {r[0]: (r[1], r[2]) for r in rows}, newest

    def messages_after(self, message_id: int) -> List[Tuple[int, int, str, Optional[int]]]:
        """(message id, handoff id, sender, the handoff's agent) newer than ``message_id``."""
        with session_scope(self.engine) as s:
            rows = s.execute(
                select(HandoffMessage.id, HandoffMessage.handoff_id, HandoffMessage.sender, Handoff.agent_id)
                .join(Handoff, Handoff.id == HandoffMessage.handoff_id)
                .where(HandoffMessage.id > message_id).order_by(HandoffMessage.id)
            ).all()
            return [tuple(r) for r in rows]

    def metrics(self, since: Optional[datetime] = None, now: Optional[datetime] = None) -> Metrics:
        """The desk's figures now, and over the window since ``since``
        (default: the last 24 hours)."""
        now = now or utcnow()
        since = since or now - timedelta(hours=24)
        n, t0 = to_db(now), to_db(since)
        with session_scope(self.engine) as s:
            waiting_rows = s.execute(select(Handoff.created_at).where(Handoff.status == "waiting")).scalars().all()
            ages = [(n - c).total_seconds() for c in waiting_rows]
            assigned = s.execute(select(func.count()).where(Handoff.status == "assigned")).scalar_one()
            waits = [
                (a - c).total_seconds()
                for c, a in s.execute(select(Handoff.created_at, Handoff.assigned_at)
                                      .where(Handoff.assigned_at.is_not(None), Handoff.assigned_at >= t0)).all()
            ]
            firsts = [
                (f - c).total_seconds()
                for c, f in s.execute(select(Handoff.created_at, Handoff.first_response_at)
                                      .where(Handoff.first_response_at.is_not(None), Handoff.first_response_at >= t0)).all()
            ]
            handled = dict(s.execute(
                select(Handoff.agent_id, func.count()).where(Handoff.status == "closed", Handoff.closed_at >= t0,
                                                             Handoff.agent_id.is_not(None))
                .group_by(Handoff.agent_id)).all())
            open_ = dict(s.execute(select(Handoff.agent_id, func.count()).where(Handoff.status == "assigned")
                                   .group_by(Handoff.agent_id)).all())
            per_agent = [
                AgentLoad(a.id, a.display_name, open_.get(a.id, 0), handled.get(a.id, 0), self._present(a, now))
                for a in s.execute(select(Agent).order_by(Agent.id)).scalars()
            ]
        avg = lambda xs: round(sum(xs) / len(xs), 1) if xs else None  # noqa: E731
        return Metrics(
            since=since, waiting=len(ages), assigned=assigned,
            longest_wait_seconds=round(max(ages), 1) if ages else None,
            current_avg_wait_seconds=avg(ages), avg_wait_seconds=avg(waits),
            avg_first_response_seconds=avg(firsts), handled_total=sum(handled.values()), per_agent=per_agent,
        )

    # ---- helpers

    def _present(self, agent: Agent, now: datetime) -> bool:
        return bool(agent.online) and agent.last_seen_at is not None and agent.last_seen_at >= to_db(now - self.presence)

    def _present_agents(self, s: Any, now: datetime) -> List[Tuple[int, int, int, Optional[datetime]]]:
        """(agent id, open chats, cap, last assigned) of the present agents."""
        open_ = dict(s.execute(select(Handoff.agent_id, func.count()).where(Handoff.status == "assigned")
                               .group_by(Handoff.agent_id)).all())
        rows = s.execute(
            select(Agent).where(Agent.online.is_(True), Agent.last_seen_at >= to_db(now - self.presence))
            .order_by(Agent.id).with_for_update()
        ).scalars()
        return [(a.id, open_.get(a.id, 0), a.max_concurrent, a.last_assigned_at) for a in rows]

    def _agent_view(self, s: Any, agent: Agent) -> AgentView:
        open_chats = s.execute(select(func.count()).where(Handoff.status == "assigned", Handoff.agent_id == agent.id)).scalar_one()
        return AgentView(agent.id, agent.username, agent.display_name, agent.max_concurrent, bool(agent.online),
                         self._present(agent, utcnow()), open_chats, from_db(agent.last_seen_at))


def may_see(handoff: HandoffView, agent_id: int) -> bool:
    """An agent sees the waiting queue and their own chats, nothing else."""
    return handoff.status == "waiting" or handoff.agent_id == agent_id


def _assigned_to(s: Any, handoff_id: int, agent_id: int) -> Tuple[Optional[Handoff], Optional[Outcome]]:
    """The handoff if ``agent_id`` holds it; otherwise the refusal
    (``not_found``, or ``forbidden`` for a chat that is waiting, closed or
    another agent's): only the assigned agent may act on a chat."""
    handoff = s.get(Handoff, handoff_id)
    if handoff is None:
        return None, Outcome(False, "not_found")
    if handoff.status != "assigned" or handoff.agent_id != agent_id:
        return None, Outcome(False, "forbidden")
    return handoff, None


def _open_handoff(s: Any, conversation_id: str) -> Optional[Handoff]:
    return s.execute(
        select(Handoff).where(Handoff.conversation_id == conversation_id, Handoff.status.in_(OPEN))
        .order_by(Handoff.id.desc()).limit(1)
    ).scalar_one_or_none()


def _position(s: Any, handoff: Handoff) -> int:
    if handoff.status != "waiting":
        return 1
    return s.execute(select(func.count()).where(Handoff.status == "waiting", Handoff.id <= handoff.id)).scalar_one()


def _agent_names(s: Any) -> Dict[int, str]:
    return dict(s.execute(select(Agent.id, Agent.display_name)).all())


def _audit(s: Any, agent_id: Optional[int], action: str, target: Optional[str], detail: Optional[str]) -> None:
    s.add(AuditEntry(agent_id=agent_id, action=action[:32], target=(target or None) and target[:64],
                     detail=detail, created_at=to_db(utcnow())))


def _summary(text: str) -> Any:
    try:
        value = json.loads(text)
    except (TypeError, ValueError):
        return text
    return value if isinstance(value, dict) else text


def _handoff_view(s: Any, h: Handoff, names: Optional[Dict[int, str]] = None, position: Optional[int] = None,
                  with_position: bool = False) -> HandoffView:
    if names is None:
        names = _agent_names(s) if h.agent_id is not None else {}
    if with_position and h.status == "waiting":
        position = _position(s, h)
    return HandoffView(
        id=h.id, conversation_id=h.conversation_id, channel=h.channel, reason=h.reason, summary=_summary(h.summary),
        status=h.status, language=h.language or "zh", customer_id=h.customer_id, agent_id=h.agent_id,
        agent_name=names.get(h.agent_id) if h.agent_id is not None else None, created_at=from_db(h.created_at),
        assigned_at=from_db(h.assigned_at), first_response_at=from_db(h.first_response_at),
        closed_at=from_db(h.closed_at), position=position if h.status == "waiting" else None,
    )


def _message_view(m: HandoffMessage) -> MessageView:
    return MessageView(m.id, m.handoff_id, m.sender, m.agent_id, m.text, from_db(m.created_at), bool(m.delivered))


__all__: Sequence[str] = ["DeskStore", "HandoffView", "AgentView", "MessageView", "Metrics", "Outcome",
                          "Forbidden", "hash_password", "verify_password", "may_see", "conversation_key"]
