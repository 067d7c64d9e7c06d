"""Answers that teach the bot (kefu/analytics/answers.py) on real SQLite and
PostgreSQL: agents' replies to what the bot could not answer are kept with
personal data replaced, similar questions are grouped, a trainer's approval
is checked, and the export is Rasa data that `rasa data validate` accepts
beside the project's own."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from kefu.analytics import answers, trainer
from kefu.store.desk import DeskStore
from tests.conftest import ROOT


def _handoff(engine, name: str) -> int:
    store = DeskStore(engine)
    store.queue_handoff(f"rest:{name}", "rest", "fallback", {"intents": ["nlu_fallback"]}, language="zh")
    return store.active_handoff(f"rest:{name}").id


def test_what_the_bot_could_not_answer_is_kept_once_without_personal_data(engine):
    assert answers.unanswered("nlu_fallback", 0.9) and answers.unanswered("faq", 0.4)
    assert answers.unanswered(None, None) and answers.unanswered("out_of_scope", 0.95)
    assert not answers.unanswered("faq", 0.8)
    handoff = _handoff(engine, "learn-1")
    kept = answers.collect(engine, handoff, "我的手机 13812345678 订单 2611010000000001 能寄存吗？",
                           "可以的，寄存 7 天内免费，联系 13812345678 [客服]", "zh", "nlu_fallback")
    assert kept is not None
    assert answers.collect(engine, handoff, "我的手机 13812345678 订单 2611010000000001 能寄存吗？", "again",
                           "zh") is None  # one per handoff and question
    assert answers.collect(engine, handoff, "   ", "答", "zh") is None
    [group] = answers.groups(engine)
    [candidate] = group["candidates"]
    assert "13812345678" not in candidate["question"] + candidate["answer"]
    assert "2611010000000001" not in candidate["question"]
    assert "[" not in candidate["question"]


def test_similar_questions_are_one_group(engine):
    handoff = _handoff(engine, "learn-2")
    for question in ("你们可以帮忙寄存商品吗", "可以帮我寄存一下商品吗", "门店几点关门"):
        answers.collect(engine, handoff, question, "答复", "zh")
    groups = answers.groups(engine)
    assert [len(g["candidates"]) for g in groups] == [2, 1]
    assert {c["question"] for c in groups[0]["candidates"]} == {"你们可以帮忙寄存商品吗", "可以帮我寄存一下商品吗"}


def test_an_approval_is_checked_and_the_candidates_leave_the_list(engine):
    handoff = _handoff(engine, "learn-3")
    ids = [answers.collect(engine, handoff, q, "可以寄存7天", "zh") for q in ("能寄存吗", "可以寄存商品吗")]
    known = trainer.known_intents()
    for topic, questions, zh, en, reason in (("Bad Topic!", ["a", "b"], "答", "answer", "bad_topic"),
                                              ("size_guide", ["a", "b"], "答", "answer", "topic_exists"),
                                              ("storage", ["能寄存吗"], "答", "answer", "too_few_questions"),
                                              ("storage", ["能寄存吗", " 能寄存吗"], "答", "en", "too_few_questions"),
                                              ("storage", ["能寄存吗", "可以寄存吗"], "答", "", "answer_missing")):
        with pytest.raises(answers.Invalid, match=reason):
            answers.approve(engine, ids, topic, questions, zh, en, None, known)
    approved = answers.approve(engine, ids, "storage", ["能寄存吗", "可以寄存商品吗", "包裹能放你们那几天吗"],
                               "可以的，免费寄存7天。", "Yes, we keep it for free for 7 days.", None, known)
    assert approved["topic"] == "storage" and len(approved["questions"]) == 3
    assert answers.groups(engine) == []
    with pytest.raises(answers.Invalid, match="topic_exists"):
        answers.approve(engine, [], "storage", ["x y", "y z"], "答", "answer", None, known)
    other = answers.collect(engine, handoff, "你好在吗", "在的", "zh")
    assert answers.reject(engine, [other]) == 1 and answers.groups(engine) == []


@pytest.mark.e2e
def test_the_export_is_training_data_rasa_accepts(engine, tmp_path: Path):
    handoff = _handoff(engine, "learn-4")
    ids = [answers.collect(engine, handoff, q, "可以寄存", "zh") for q in ("能寄存吗", "可以寄存商品吗")]
    answers.approve(engine, ids, "storage", ["店里能寄存包裹吗", "可以帮我寄存商品吗", "寄存服务有吗: 几天"],
                    "可以的，免费寄存7天。", "Yes: we keep it for free for 7 days.", None, trainer.known_intents())
    text = answers.export(engine, mark_exported=True)
    data = yaml.safe_load(text)
    [block] = data["nlu"]
    assert block["intent"] == "faq/storage" and block["examples"].splitlines()[0] == "- 店里能寄存包裹吗"
    variations = data["responses"]["utter_faq/storage"]
    assert variations[0] == {"text": "可以的，免费寄存7天。"}
    assert variations[1]["condition"] == [{"type": "slot", "name": "language", "value": "en"}]
    assert yaml.safe_load(answers.export(engine))["nlu"] == []  # exported once
    assert yaml.safe_load(answers.export(engine, include_exported=True))["nlu"] == data["nlu"]

    project = tmp_path / "project"
    shutil.copytree(ROOT / "data", project / "data")
    (project / "data" / "nlu" / "faq_learned.yml").write_text(text, encoding="utf-8")
    for name in ("domain.yml", "config.yml"):
        shutil.copy(ROOT / name, project / name)
    rasa = str(Path(sys.executable).with_name("rasa"))
    result = subprocess.run([rasa, "data", "validate", "--data", "data", "--domain", "domain.yml",
                             "--config", "config.yml"], cwd=project, capture_output=True, text=True, timeout=600)
    said = result.stdout + result.stderr
    assert result.returncode == 0, said[-3000:]
    assert not [line for line in said.splitlines() if "storage" in line], said[-3000:]
