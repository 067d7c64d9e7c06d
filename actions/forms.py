"""The base of Kefu's form validation actions.

Rasa sends no domain to the action server (``enable_selective_domain`` in
endpoints.yml), but rasa-sdk's ``FormValidationAction`` reads the form's
required slots and the slot mappings from it. They come from domain.yml
itself (kefu.core.domain), the file the model was trained with.
"""
from __future__ import annotations

from abc import abstractmethod
from typing import Any, Dict, List, Text

from rasa_sdk import Tracker
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.forms import FormValidationAction
from rasa_sdk.types import DomainDict

from kefu.core.domain import forms_and_slots


class KefuForm(FormValidationAction):
    """A ``FormValidationAction`` that works without the domain in the call."""

    @abstractmethod
    def name(self) -> Text:
        """Each form's own validation action name (abstract: rasa-sdk
        registers only concrete subclasses)."""

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[Dict[Text, Any]]:
        return await super().run(dispatcher, tracker, domain or forms_and_slots())
