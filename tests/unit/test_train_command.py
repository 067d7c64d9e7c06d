"""``make train`` (kefu/ops/train.py) checks the data beside the training:
data Rasa refuses leaves no model behind and says why; and after a change to
the NLU data alone, the dialogue policies come from Rasa's cache."""
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONFIG = """recipe: default.v1
language: en
assistant_id: check
pipeline:
  - name: WhitespaceTokenizer
  - name: KeywordIntentClassifier
policies:
  - name: MemoizationPolicy
  - name: RulePolicy
"""
DOMAIN = """version: "3.1"
intents: [greet, thanks]
responses:
  utter_hello: [{text: "hello"}]
  utter_welcome: [{text: "you are welcome"}]
"""
NLU = """version: "3.1"
nlu:
- intent: greet
  examples: |
    - hello
    - hi there
- intent: thanks
  examples: |
    - thanks
    - thank you
"""
#: a story that runs a form the domain does not have
STORIES = """version: "3.1"
stories:
- story: one
  steps:
  - intent: greet
  - action: utter_hello
  - active_loop: no_such_form
"""


def test_data_rasa_refuses_leaves_no_model(tmp_path):
    (tmp_path / "config.yml").write_text(CONFIG)
    (tmp_path / "domain.yml").write_text(DOMAIN)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(NLU)
    (tmp_path / "data" / "stories.yml").write_text(STORIES)
    env = {"PYTHONPATH": str(ROOT), "RASA_CACHE_DIRECTORY": str(tmp_path / "cache"),
           "RASA_TELEMETRY_ENABLED": "false", "PATH": str(Path(sys.executable).parent)}
    done = subprocess.run([sys.executable, "-m", "kefu.ops.train", "--out", "models", "--name", "check"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode != 0
    assert "no_such_form" in done.stdout + done.stderr
    assert not (tmp_path / "models" / "check.tar.gz").exists()
    (tmp_path / "data" / "stories.yml").write_text(STORIES.replace("  - active_loop: no_such_form\n", ""))
    done = subprocess.run([sys.executable, "-m", "kefu.ops.train", "--out", "models", "--name", "check"],
                          cwd=tmp_path, env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert (tmp_path / "models" / "check.tar.gz").exists()


#: four retrieval intents: Rasa 3.6 adds their actions to the domain from a set
RETRIEVAL = ("faq", "chitchat", "policy", "smalltalk")


def test_a_change_to_the_nlu_data_alone_retrains_no_policy(tmp_path):
    topics = [(name, topic) for name in RETRIEVAL for topic in ("a", "b")]
    nlu = NLU + "".join(f"- intent: {name}/{topic}\n  examples: |\n    - {name} {topic} one\n    - {name} {topic} two\n"
                        for name, topic in topics)
    domain = DOMAIN.replace("intents: [greet, thanks]", f"intents: [greet, thanks, {', '.join(RETRIEVAL)}]")
    domain += "".join(f"  utter_{name}/{topic}: [{{text: \"{name} {topic}\"}}]\n" for name, topic in topics)
    (tmp_path / "config.yml").write_text(CONFIG)
    (tmp_path / "domain.yml").write_text(domain)
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "nlu.yml").write_text(nlu)
    (tmp_path / "data" / "stories.yml").write_text(STORIES.replace("  - active_loop: no_such_form\n", ""))
    env = {"PYTHONPATH": str(ROOT), "RASA_CACHE_DIRECTORY": str(tmp_path / "cache"),
           "RASA_TELEMETRY_ENABLED": "false", "PATH": str(Path(sys.executable).parent)}

    def train() -> str:
        done = subprocess.run([sys.executable, "-m", "kefu.ops.train", "--out", "models", "--name", "check"],
                              cwd=tmp_path, env=env, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout + done.stderr

    first = train()
    assert "Starting to train component 'MemoizationPolicy'" in first
    (tmp_path / "data" / "nlu.yml").write_text(nlu + "- intent: thanks\n  examples: |\n    - many thanks\n")
    second = train()
    assert "Starting to train component 'KeywordIntentClassifier'" in second  # the NLU data did change
    assert "Restored component 'MemoizationPolicy' from cache" in second
    assert "Restored component 'RulePolicy' from cache" in second
