"""Handing a conversation to a person and taking it back.

Within agents' hours the conversation is queued for the agent desk with a
summary, and the `handoff_active` slot makes `kefu.dialogue.policies.HandoffPolicy`
relay every further message to the desk while the bot stays silent. Outside
hours a ticket is opened instead and the shopper is told when agents are
back. The desk sends agents' replies through `action_agent_message` and ends
the handoff with `action_handback`, which asks for a satisfaction rating.
"""
from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, Dict, List, Optional, Text

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, ActiveLoop, SlotSet, UserUtteranceReverted
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions.backend import backend_guard, channel_of, desk, language, proven_customer, within_limits
from actions.identity import clear_flow_slots, proven_order
from actions.tickets import open_ticket
from kefu.core import hours
from kefu.core.clock import utcnow
from kefu.core.labels import phrase
from kefu.core.names import (
    BLOCK_ACTION,
    BLOCKED_NOTICE_ACTION,
    BLOCKED_SLOT,
    HANDBACK_ACTION,
    HANDOFF_SLOT,
    LEAVE_MESSAGE_ACTION,
    QUEUE_LATE_ACTION,
    QUEUE_MOVED_ACTION,
    RELAY_ACTION,
    UNBLOCK_ACTION,
)
from kefu.risk import complaints
from kefu.risk import words as risk_words
from kefu.store.desk import WaitView
from kefu.store.limits import HANDOFFS_PER_CLIENT, HANDOFFS_PER_CONVERSATION

#: the desk runs its actions between the shopper's turns (Rasa's execute
#: endpoint runs one action and nothing after it); ending them with a listen
#: makes the conversation look the same as after any other bot turn, so
#: policies and rules see the shopper's next message as usual.
LISTEN = ActionExecuted("action_listen")
_MAX_RELAYED = 4000
#: how many of the shopper's latest messages risk control reads at a handoff
RISK_LOOKBACK = 6


def conversation_summary(tracker: Tracker) -> Dict[str, Any]:
    """What an agent wants to know first: intents so far (each once, the
    latest last: routing goes by the latest request), the order or ticket
    in question, language and channel."""
    intents: List[str] = []
    for event in tracker.events:
        if event.get("event") == "user":
            name = (event.get("parse_data") or {}).get("intent", {}).get("name")
            if name:
                intents = [*(i for i in intents if i != name), name]
    summary: Dict[str, Any] = {
        "intents": intents,
        "order_id": proven_order(tracker),
        "ticket_id": tracker.get_slot("ticket_id"),
        "language": language(tracker),
        "channel": channel_of(tracker),
    }
    said = shopper_texts(tracker)[-RISK_LOOKBACK:]
    assessment = risk_words.assess(*said)
    if assessment.abuse or assessment.signals:
        summary["risk"] = assessment.as_json()  # kinds and reasons, never the words
    if "complain" in intents:
        category = complaints.categorize(tracker.get_slot("complaint_detail") or " ".join(said))
        summary["complaint"] = {"category": category.code, "name": f"{category.name_zh} {category.name_en}"}
    return summary


def shopper_texts(tracker: Tracker) -> List[str]:
    return [e.get("text") or "" for e in tracker.events if e.get("event") == "user" and e.get("text")]


def handoff_reason(tracker: Tracker) -> str:
    intent = tracker.latest_message.get("intent", {}).get("name")
    return {"request_human": "requested", "complain": "complaint", "affirm": "requested"}.get(intent, "fallback")


def hand_off(dispatcher: CollectingDispatcher, tracker: Tracker, reason: str) -> List[Dict[Text, Any]]:
    """Queue for an agent, or open a ticket when no agent works now. A
    conversation or an address that keeps asking (rotating senders, a
    script) is told so instead of filling the queue."""
    lang = language(tracker)
    now = utcnow()
    service = hours.load()
    if not service.is_open(now):
        summary = conversation_summary(tracker)
        ticket = open_ticket(tracker, "handoff", f"handoff outside hours ({reason}): {summary['intents']}")
        if ticket is None:
            dispatcher.utter_message(response="utter_too_many_requests")
            return clear_flow_slots()
        back = service.next_opening(now)
        when = f"{back:%m-%d %H:%M}" if back else phrase("utter_part_as_soon_as_possible", lang)  # shop time
        dispatcher.utter_message(response="utter_handoff_closed", back=when, ticket_id=ticket.id)
        return clear_flow_slots()
    queued = desk().active_handoff(tracker.sender_id) is not None
    if not queued and not within_limits(tracker, HANDOFFS_PER_CONVERSATION, HANDOFFS_PER_CLIENT):
        dispatcher.utter_message(response="utter_too_many_requests")
        return clear_flow_slots()
    position = desk().queue_handoff(
        conversation_id=tracker.sender_id,
        channel=channel_of(tracker),
        reason=reason,
        summary=conversation_summary(tracker),
        language=lang,
        customer_id=proven_customer(tracker),
    )
    wait = desk().start_waiting(tracker.sender_id)
    dispatcher.utter_message(response="utter_handoff", position=position, wait=wait_phrase(wait, lang))
    return [*clear_flow_slots(), ActiveLoop(None), SlotSet("requested_slot", None), SlotSet(HANDOFF_SLOT, True)]


def wait_phrase(wait: Optional[WaitView], lang: str) -> str:
    """"预计等待约 4 分钟", or no number when no agent is present to base one on."""
    if wait is None or wait.minutes is None:
        return phrase("utter_part_wait_unknown", lang)
    return phrase("utter_part_wait_minutes", lang, minutes=wait.minutes)


class ActionHandoff(Action):
    def name(self) -> Text:
        return "action_handoff"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        return hand_off(dispatcher, tracker, handoff_reason(tracker))


FALLBACK_ACTIONS = {"action_default_fallback", "action_two_stage_fallback"}


def failed_before(tracker: Tracker, lookback: int = 12) -> bool:
    """Whether the bot already failed to understand just before this turn."""
    return any(e.get("event") == "action" and e.get("name") in FALLBACK_ACTIONS for e in tracker.events[-lookback:])


class ActionDefaultFallback(Action):
    """The bot does not know what to do. The first time it offers a person
    and forgets the message; when it has failed twice (the two-stage
    fallback ran out, or it fails again right after) a person takes over, or
    after hours a ticket is opened. Reverting first keeps the message from
    being processed again."""

    def name(self) -> Text:
        return "action_default_fallback"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if not failed_before(tracker):
            dispatcher.utter_message(response="utter_default")
            return [UserUtteranceReverted()]
        dispatcher.utter_message(response="utter_fallback_handoff")
        return [UserUtteranceReverted(), *hand_off(dispatcher, tracker, "fallback")]


class ActionEscalateSeriousComplaint(Action):
    """After a complaint ticket: an escalation signal (12315, a lawyer, the
    press, a threat, self-harm, a very negative message: risk.yml) goes to
    a person at once, ahead of the line."""

    def name(self) -> Text:
        return "action_escalate_if_serious"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if risk_words.assess(*shopper_texts(tracker)[-RISK_LOOKBACK:]).escalates:
            return hand_off(dispatcher, tracker, "serious_complaint")
        dispatcher.utter_message(response="utter_anything_else")
        return []


class ActionLeaveMessage(Action):
    """"留言": a shopper who would rather not wait leaves a message. The
    handoff closes if it is still waiting and a ticket carries the
    conversation to the agents; an agent who already took the chat keeps it."""

    def name(self) -> Text:
        return LEAVE_MESSAGE_ACTION

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        active = desk().active_handoff(tracker.sender_id)
        if active is not None and active.status != "waiting":
            dispatcher.utter_message(response="utter_left_message_taken")
            return [LISTEN]
        if active is None or desk().leave_message(tracker.sender_id) is None:
            if active is not None:  # taken by an agent this very moment
                dispatcher.utter_message(response="utter_left_message_taken")
                return [LISTEN]
            dispatcher.utter_message(response="utter_leave_message_not_waiting")
            return [SlotSet(HANDOFF_SLOT, False)]
        summary = conversation_summary(tracker)
        ticket = open_ticket(tracker, "handoff", f"left a message instead of waiting: {summary['intents']}")
        if ticket is None:
            dispatcher.utter_message(response="utter_too_many_requests")
        else:
            dispatcher.utter_message(response="utter_left_message", ticket_id=ticket.id)
        return [SlotSet(HANDOFF_SLOT, False)]


class QueueNews(Action, ABC):
    """Run by the desk while the shopper waits: their place and estimate now."""

    response = ""

    @abstractmethod
    def name(self) -> Text:
        """Each kind of news has its action (abstract: rasa-sdk registers only concrete subclasses)."""

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        wait = desk().wait_for(tracker.sender_id)
        if wait is not None:
            dispatcher.utter_message(response=self.response, position=wait.position,
                                     wait=wait_phrase(wait, language(tracker)))
        return [LISTEN]


class ActionQueueMoved(QueueNews):
    response = "utter_queue_moved"

    def name(self) -> Text:
        return QUEUE_MOVED_ACTION


class ActionQueueLate(QueueNews):
    response = "utter_queue_late"

    def name(self) -> Text:
        return QUEUE_LATE_ACTION


#: what the agent's transcript shows for a photo the shopper sent
PHOTO_MARK = "📷 [照片 / photo]"


class ActionRelayToAgent(Action):
    """While an agent has the conversation: pass the shopper's message on,
    say nothing."""

    def name(self) -> Text:
        return RELAY_ACTION

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        text = (tracker.latest_message.get("text") or "").strip()
        if (tracker.latest_message.get("intent") or {}).get("name") == "send_photo":
            text = PHOTO_MARK  # the agent sees the photo itself beside the chat
        if not desk().active_handoff(tracker.sender_id):
            # The desk closed it without handing back (e.g. an agent left):
            # the bot takes over again rather than talk to nobody.
            dispatcher.utter_message(response="utter_handback")
            return [SlotSet(HANDOFF_SLOT, False)]
        if text:
            desk().add_shopper_message(tracker.sender_id, text[:_MAX_RELAYED])
        return []


class ActionAgentMessage(Action):
    """Run by the agent desk: deliver the agent's pending replies on the
    shopper's channel (and so into the conversation's transcript)."""

    def name(self) -> Text:
        return "action_agent_message"

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        for text in desk().pop_agent_messages(tracker.sender_id):
            dispatcher.utter_message(text=text)
        return [LISTEN]


class ActionHandback(Action):
    """Run by the agent desk when the agent is done: the bot is back and
    asks for a rating."""

    def name(self) -> Text:
        return HANDBACK_ACTION

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        dispatcher.utter_message(response="utter_handback")
        dispatcher.utter_message(response="utter_ask_rating")
        return [SlotSet(HANDOFF_SLOT, False), LISTEN]


class ActionBlock(Action):
    """Run by the desk when a supervisor blocked the conversation: from now
    on every message gets the notice (kefu.dialogue.policies), if the store
    agrees it is blocked (the store is the truth, not the caller)."""

    def name(self) -> Text:
        return BLOCK_ACTION

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if not desk().is_blocked(tracker.sender_id):
            return [LISTEN]
        dispatcher.utter_message(response="utter_blocked")
        return [*clear_flow_slots(), ActiveLoop(None), SlotSet(HANDOFF_SLOT, False), SlotSet(BLOCKED_SLOT, True),
                LISTEN]


class ActionUnblock(Action):
    def name(self) -> Text:
        return UNBLOCK_ACTION

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if desk().is_blocked(tracker.sender_id) or not tracker.get_slot(BLOCKED_SLOT):
            return [LISTEN]
        dispatcher.utter_message(response="utter_unblocked")
        return [SlotSet(BLOCKED_SLOT, False), LISTEN]


class ActionBlockedNotice(Action):
    """A blocked conversation's message: the notice, unless a supervisor
    lifted the block meanwhile (then the bot serves again)."""

    def name(self) -> Text:
        return BLOCKED_NOTICE_ACTION

    @backend_guard
    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        if desk().is_blocked(tracker.sender_id):
            dispatcher.utter_message(response="utter_blocked")
            return []
        dispatcher.utter_message(response="utter_unblocked")
        return [SlotSet(BLOCKED_SLOT, False)]
