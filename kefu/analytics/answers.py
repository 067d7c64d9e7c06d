"""Answers that teach the bot (多层次反馈).

When the bot could not answer a shopper (it fell back, was less than 60 %
sure, or took the question for something a shop does not do) and an agent
did, the pair is a candidate FAQ: the desk keeps it
(:func:`collect`), personal data replaced by placeholders. Candidates with
similar questions are shown together (:func:`groups`); a trainer edits the
question variations and the answer in both languages and approves them as a
new topic (:func:`approve`), or rejects them. Approved topics export as Rasa
data ready to commit (:func:`export`): ``faq/<topic>`` examples and the
``utter_faq/<topic>`` response, the format of ``data/nlu/faq.yml``, so
``make train`` then answers them.
"""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Set

import yaml
from sqlalchemy import select
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError

from kefu.analytics.events import LOW_CONFIDENCE
from kefu.core.clock import from_db, to_db, utcnow
from kefu.core.privacy import anonymise
from kefu.core.similarity import char_pairs, jaccard
from kefu.risk import words as risk_words
from kefu.store.db import session_scope
from kefu.store.models import FaqCandidate, FaqProposal

#: questions at least this similar (Jaccard of character pairs) are one group
SIMILAR = 0.3
TOPIC = re.compile(r"^[a-z][a-z0-9_]{2,40}$")
MAX_QUESTION, MAX_ANSWER = 500, 2000
#: what a proposal needs before the model can learn it
MIN_QUESTIONS = 2


class Invalid(ValueError):
    """A proposal that cannot be exported as training data (the reason)."""


def _plain(text: str, limit: int) -> str:
    """Personal data replaced, one line, no ``[...]``: Rasa would read
    brackets in an example as an entity annotation."""
    return risk_words.mask(anonymise(" ".join(str(text).split()))).replace("[", "(").replace("]", ")")[:limit]


#: what the bot has no answer for, however sure it is
NO_ANSWER = (None, "nlu_fallback", "out_of_scope")


def unanswered(intent: Optional[str], confidence: Optional[float]) -> bool:
    """Whether the bot could not answer a message it understood so: it fell
    back, it was unsure, or it took the message for something a shop does
    not do (which an agent then answered)."""
    return intent in NO_ANSWER or confidence is None or confidence < LOW_CONFIDENCE


def collect(engine: Engine, handoff_id: int, question: str, answer: str, language: str,
            intent: Optional[str] = None, now: Optional[datetime] = None) -> Optional[int]:
    """Keep a candidate pair (once per handoff and question); its id, or
    None when it was kept before or says nothing."""
    question, answer = _plain(question, MAX_QUESTION), anonymise(answer.strip())[:MAX_ANSWER]
    if not question or not answer:
        return None
    try:
        with session_scope(engine) as s:
            row = FaqCandidate(handoff_id=handoff_id, question=question, answer=answer,
                               language="en" if language == "en" else "zh", intent=intent, status="new",
                               created_at=to_db(now or utcnow()))
            s.add(row)
            s.flush()
            return int(row.id)
    except IntegrityError:
        return None


def _similar(a: Set[str], b: Set[str]) -> bool:
    return jaccard(a, b) >= SIMILAR


def groups(engine: Engine, limit: int = 200) -> List[Dict[str, Any]]:
    """The new candidates, similar questions together (a question joins the
    first group one of whose questions it resembles), biggest groups first."""
    with session_scope(engine) as s:
        rows = s.execute(select(FaqCandidate).where(FaqCandidate.status == "new").order_by(FaqCandidate.id)
                         .limit(limit)).scalars().all()
        found: List[Dict[str, Any]] = []
        grams: List[List[Set[str]]] = []
        for row in rows:
            mine = char_pairs(row.question)
            at = next((i for i, members in enumerate(grams) if any(_similar(mine, g) for g in members)), None)
            item = {"id": row.id, "question": row.question, "answer": row.answer, "language": row.language,
                    "intent": row.intent, "created_at": from_db(row.created_at)}
            if at is None:
                found.append({"id": row.id, "candidates": [item]})
                grams.append([mine])
            else:
                found[at]["candidates"].append(item)
                grams[at].append(mine)
    return sorted(found, key=lambda g: (-len(g["candidates"]), g["id"]))


def _clean_questions(questions: Sequence[Any]) -> List[str]:
    seen: List[str] = []
    for question in questions:
        text = _plain(str(question), MAX_QUESTION)
        if text and text not in seen:
            seen.append(text)
    return seen


def approve(engine: Engine, candidate_ids: Sequence[int], topic: str, questions: Sequence[Any], answer_zh: str,
            answer_en: str, agent_id: Optional[int], known_topics: Sequence[str] = ()) -> Dict[str, Any]:
    """A trainer's approval: the candidates become topic ``faq/<topic>`` with
    these questions and answers (personal data replaced again: a trainer may
    have typed some). :class:`Invalid` with the reason otherwise."""
    topic = (topic or "").strip().lower()
    if not TOPIC.match(topic):
        raise Invalid("bad_topic")
    if f"faq/{topic}" in known_topics:
        raise Invalid("topic_exists")
    cleaned = _clean_questions(questions)
    if len(cleaned) < MIN_QUESTIONS:
        raise Invalid("too_few_questions")
    zh, en = anonymise((answer_zh or "").strip())[:MAX_ANSWER], anonymise((answer_en or "").strip())[:MAX_ANSWER]
    if not zh or not en:
        raise Invalid("answer_missing")
    try:
        with session_scope(engine) as s:
            proposal = FaqProposal(topic=topic, questions=json.dumps(cleaned, ensure_ascii=False), answer_zh=zh,
                                   answer_en=en, approved_by=agent_id, approved_at=to_db(utcnow()))
            s.add(proposal)
            s.flush()
            for row in s.execute(select(FaqCandidate).where(FaqCandidate.id.in_(list(candidate_ids)),
                                                            FaqCandidate.status == "new")).scalars():
                row.status, row.proposal_id = "approved", proposal.id
            return {"id": proposal.id, "topic": topic, "questions": cleaned, "answer_zh": zh, "answer_en": en}
    except IntegrityError:
        raise Invalid("topic_exists") from None


def reject(engine: Engine, candidate_ids: Sequence[int]) -> int:
    """Candidates not worth a topic (noise, one-off cases); how many."""
    with session_scope(engine) as s:
        rows = s.execute(select(FaqCandidate).where(FaqCandidate.id.in_(list(candidate_ids)),
                                                    FaqCandidate.status == "new")).scalars().all()
        for row in rows:
            row.status = "rejected"
        return len(rows)


class _Literal(str):
    """A block of examples, written the way data/nlu files write them (``|``)."""


def _literal(dumper: yaml.SafeDumper, value: _Literal) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|")


class _Dumper(yaml.SafeDumper):
    pass


_Dumper.add_representer(_Literal, _literal)


def export(engine: Engine, include_exported: bool = False, mark_exported: bool = False) -> str:
    """The approved topics as Rasa data (NLU examples and responses, in one
    file for ``data/nlu/``); ``mark_exported`` records that they left."""
    with session_scope(engine) as s:
        query = select(FaqProposal).order_by(FaqProposal.id)
        if not include_exported:
            query = query.where(FaqProposal.exported_at.is_(None))
        proposals = s.execute(query).scalars().all()
        nlu, responses = [], {}
        for p in proposals:
            examples = "".join(f"- {q}\n" for q in json.loads(p.questions))
            nlu.append({"intent": f"faq/{p.topic}", "examples": _Literal(examples)})
            responses[f"utter_faq/{p.topic}"] = [
                {"text": p.answer_zh},
                {"text": p.answer_en, "condition": [{"type": "slot", "name": "language", "value": "en"}]},
            ]
        if mark_exported:
            now = to_db(utcnow())
            for p in proposals:
                p.exported_at = now
    data: Dict[str, Any] = {"version": "3.1", "nlu": nlu}
    if responses:
        data["responses"] = responses
    header = "# FAQ topics approved on the agent desk (kefu/analytics/answers.py); review, then make train\n"
    return header + yaml.dump(data, Dumper=_Dumper, allow_unicode=True, sort_keys=False, width=1000)
