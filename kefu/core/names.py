"""Names that the Rasa process, the action server and the desk must agree on.

The handoff crosses three processes: ``action_handoff`` (action server) sets
a slot, ``kefu.dialogue.policies.HandoffPolicy`` (Rasa) reads it and predicts the
relay action, and the desk ends it by asking Rasa to run the handback
action. Each side imports its names from here, so none can drift.
"""
from __future__ import annotations

#: true while a person has the conversation
HANDOFF_SLOT = "handoff_active"
#: the reply language, "zh" or "en"
LANGUAGE_SLOT = "language"
#: hands the shopper's words to the agent desk, says nothing
RELAY_ACTION = "action_relay_to_agent"
#: the agent desk gives the conversation back to the bot
HANDBACK_ACTION = "action_handback"
#: while waiting for an agent: stop waiting and leave a message (a ticket)
LEAVE_MESSAGE_INTENT = "leave_message"
LEAVE_MESSAGE_ACTION = "action_leave_message"
#: the desk tells a waiting shopper their place improved, or that the estimate has passed
QUEUE_MOVED_ACTION = "action_queue_moved"
QUEUE_LATE_ACTION = "action_queue_late"
#: a supervisor blocked the conversation for repeated abuse (kefu/store/desk/risk.py):
#: the desk runs BLOCK/UNBLOCK; while the slot is true every message gets the notice
BLOCKED_SLOT = "conversation_blocked"
BLOCK_ACTION = "action_block"
UNBLOCK_ACTION = "action_unblock"
BLOCKED_NOTICE_ACTION = "action_blocked_notice"

#: intents only a connector says (``/<intent>``), never typed, so with no NLU examples
PHOTO_INTENT = "send_photo"  # a photo came and was kept (kefu/evidence/intake.py)
CONNECTOR_INTENTS = (PHOTO_INTENT,)
