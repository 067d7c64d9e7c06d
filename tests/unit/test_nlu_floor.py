"""The NLU floor's decision (bench/nlu/floor.py), on made-up scores."""
from bench.nlu.floor import FLOORS, MAX_CONFIDENT_ERRORS, failures


def scores(zh: float, en: float, topic: float = 0.95, confident: float = 0.0) -> dict:
    return {"zh": {"accuracy": zh}, "en": {"accuracy": en},
            "all": {"topic_accuracy": topic, "confident_errors": confident}}


def test_a_model_at_the_floors_passes():
    assert failures(scores(FLOORS["zh"], FLOORS["en"], FLOORS["topic"], MAX_CONFIDENT_ERRORS)) == []


def test_each_floor_fails_on_its_own():
    assert failures(scores(FLOORS["zh"] - 0.01, 0.95)) == [f"zh accuracy {FLOORS['zh'] - 0.01:.4f} < {FLOORS['zh']}"]
    assert len(failures(scores(0.95, FLOORS["en"] - 0.01))) == 1
    assert len(failures(scores(0.95, 0.95, topic=FLOORS["topic"] - 0.01))) == 1
    assert len(failures(scores(0.95, 0.95, confident=MAX_CONFIDENT_ERRORS + 0.01))) == 1
