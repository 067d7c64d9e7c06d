"""The three bots of the benchmark: how each is trained (once, cached) and
started, and what it is asked.

* ``kefu``: models/kefu.tar.gz, started by Kefu's embedded launcher
  (``kefu.ops.embedded.start``): the action server, Kefu's REST channel, a
  SQLite tracker store;
* ``default-config``: Rasa's default pipeline and policies (what the empty
  ``config.yml`` of ``rasa init`` becomes; fewer epochs, see
  ``_default_config``), trained on Kefu's own domain and data and served exactly like kefu (same launcher,
  action server and endpoints), so that only the pipeline and the policies
  differ;
* ``rasa-init``: the moodbot project ``rasa init`` writes, served by plain
  ``rasa run``: the framework's floor. It gets the same kind of SQLite
  tracker store as the other two, so that the floor includes the same
  persistence work (its own endpoints.yml would keep trackers in memory).

Every run gets fresh working files (shop database, tracker database, logs)
under var/bench-perf/runs/<bot>/, so no bot sees another's conversations.
Trained peer models are cached under var/bench-perf/ by a hash of what they
are trained from: a rerun does not retrain.
"""
from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Dict, Iterable, Optional, Tuple

import yaml

from kefu.core import responses
from kefu.core.config import PROJECT_ROOT
from kefu.ops import commands, embedded
from kefu.ops.supervisor import Process, Supervisor
from kefu.store.db import make_engine, migrate
from kefu.store.seed import seed

CACHE = PROJECT_ROOT / "var" / "bench-perf"
KEFU_MODEL = PROJECT_ROOT / "models" / "kefu.tar.gz"
#: fixed ports, away from make run (5005/5055) and bench-load (7005/7055)
RASA_PORT = 7205
ACTION_PORT = 7255
BOT_NAMES = ("kefu", "default-config", "rasa-init")
#: Kefu with one of this release's changes undone, measured on its own
#: (``--bots kefu-full-domain``): the domain sent with every action call;
#: TensorFlow's and BLAS's own thread pools (0 is TensorFlow's default);
#: Rasa's own SQL tracker store (a connection per transaction, rollback journal);
#: Kefu's store without its memory of recent sessions
VARIANTS = {
    "kefu-full-domain": {"action_endpoint": {"enable_selective_domain": False}},
    "kefu-tf-pools": {"env": {"TF_INTER_OP_PARALLELISM_THREADS": "0", "TF_INTRA_OP_PARALLELISM_THREADS": "0",
                              "OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"}},
    "kefu-rasa-sql": {"tracker_store": {"type": "SQL"}},
    "kefu-forgetful": {"tracker_store": {"remembered": 0}},
}
#: Kefu's model with TEDPolicy back at the end of its policies, as config.yml
#: had it (``--bots kefu-ted``), trained once and cached like the peers
TED = {"name": "TEDPolicy", "max_history": 5, "epochs": 60, "constrain_similarities": True, "random_seed": 42}
#: the same for every process of every bot: no telemetry calls (no network
#: here, and nothing a shop's server would be measured doing), no TF banner
QUIET = {"RASA_TELEMETRY_ENABLED": "false", "TF_CPP_MIN_LOG_LEVEL": "2"}
START_TIMEOUT = 600
TRACKER_DB = "tracker.db"
#: training epochs of the default-config peer (see _default_config)
PEER_EPOCHS = 2


@dataclass(frozen=True)
class Script:
    """One scripted conversation, and the turn whose reply shows that the bot
    followed the flow (informational: the benchmark compares cost, and the
    default config is not expected to understand Chinese)."""

    turns: Tuple[str, ...]
    check_turn: int
    check_text: str

    def followed(self, turn: int, replies: Iterable[str]) -> Optional[bool]:
        """Whether the reply of ``turn`` shows the expected flow (None: not the checked turn)."""
        if turn != self.check_turn:
            return None
        return any(self.check_text in reply for reply in replies)


#: the order conversation of the load benchmark, on 张三's delivered order 3
#: (kefu/store/seed.py: phone 13800005678); "已签收" is utter_label_delivered
ORDER_SCRIPT = Script(("你好", "我的订单到哪了", "2611010000000003", "5678", "谢谢"), 3, "已签收")
#: five moodbot turns: greet, mood_unhappy, affirm (after "did that help?"), mood_great, goodbye
MOOD_SCRIPT = Script(("hello", "I am sad", "yes", "great", "bye"), 1, "cheer you up")


@dataclass(frozen=True)
class Bot:
    """A trained bot and how to talk to it."""

    name: str
    model: Path
    script: Script
    #: what the REST channel puts before a sender to name the conversation
    conversation_prefix: str
    #: replies that are failures dressed as answers (Kefu's "please try again")
    failure_texts: Tuple[str, ...]
    launcher: Callable[["Bot", Path], Supervisor]
    #: a change undone, to measure it on its own: endpoint settings merged
    #: into the action endpoint, and environment variables for every process
    action_endpoint: Dict[str, object] = field(default_factory=dict)
    env: Dict[str, str] = field(default_factory=dict)
    tracker_store: Dict[str, object] = field(default_factory=dict)

    def start(self, workdir: Path) -> "Running":
        return Running(self, self.launcher(self, workdir), workdir)


@dataclass
class Running:
    """A started bot: its URL and processes, stopped once measured."""

    bot: Bot
    supervisor: Supervisor
    workdir: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{RASA_PORT}"

    @property
    def tracker_db(self) -> Path:
        """The SQLite tracker store, read directly by the scenarios' checks
        (so no bot needs its HTTP API on)."""
        return self.workdir / TRACKER_DB

    def conversation_id(self, sender: str) -> str:
        return self.bot.conversation_prefix + sender

    def pids(self) -> Dict[str, int]:
        """The processes whose CPU and memory count (``rasa`` and, for the
        Kefu-served bots, ``actions``), each with its children."""
        return self.supervisor.pids()

    def stop(self) -> None:
        self.supervisor.stop()


def _digest(files: Iterable[Path], base: Path, salt: str) -> str:
    """A short hash of files (by their path under ``base`` and content): the
    cache key of a model trained from them."""
    h = hashlib.sha256(salt.encode())
    for path in sorted(files):
        h.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return h.hexdigest()[:12]


def _tree(root: Path) -> Iterable[Path]:
    return (p for p in root.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def _initial_project() -> Path:
    """The project ``rasa init`` copies, from Rasa's package data (found
    without importing Rasa, which would load TensorFlow into the load generator)."""
    spec = importlib.util.find_spec("rasa")
    if spec is None or spec.origin is None:
        raise RuntimeError("rasa is not installed in this interpreter")
    return Path(spec.origin).parent / "cli" / "initial_project"


def _train(arguments: Tuple[str, ...], cwd: Path, model: Path) -> Path:
    """``rasa train`` into ``model`` unless it is there. Rasa's training cache
    goes to a throwaway directory, so nothing is written to the project's."""
    if model.exists():
        return model
    model.parent.mkdir(parents=True, exist_ok=True)
    log = model.parent / "train.log"
    print(f"training {model.relative_to(PROJECT_ROOT)} (log: {log.relative_to(PROJECT_ROOT)}) ...", flush=True)
    with tempfile.TemporaryDirectory(prefix="bench-perf-cache-") as cache, open(log, "wb") as out:
        env = {**embedded.environment(QUIET), "RASA_CACHE_DIRECTORY": cache}
        command = [commands.PYTHON, "-m", "rasa", "train", *arguments, "--out", str(model.parent),
                   "--fixed-model-name", model.name.removesuffix(".tar.gz")]
        done = subprocess.run(command, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
    if done.returncode or not model.exists():
        raise RuntimeError(f"rasa train failed ({done.returncode}); see {log}")
    return model


def _default_config() -> dict:
    """Rasa's default config (what ``rasa init``'s empty pipeline becomes),
    every ``epochs`` set to PEER_EPOCHS: the layers, sizes and features are
    the default's, so a reply costs what it would after 100 epochs, but the
    model trains in minutes instead of hours on Kefu's data (on this
    machine DIET alone takes 15-75 s per epoch). Its answers are not meant
    to be good: the flow check of this bot is informational."""
    spec = importlib.util.find_spec("rasa")
    assert spec is not None and spec.origin is not None
    path = Path(spec.origin).parent / "engine" / "recipes" / "config_files" / "default_config.yml"
    config = yaml.safe_load(path.read_text(encoding="utf-8"))
    for component in [*config["pipeline"], *config["policies"]]:
        if "epochs" in component:
            component["epochs"] = PEER_EPOCHS
    return config


def default_config_model() -> Path:
    """Rasa's default config trained on Kefu's domain.yml and data/."""
    config = yaml.safe_dump(_default_config(), sort_keys=False)
    data = PROJECT_ROOT / "data"
    salt = importlib.metadata.version("rasa") + config
    key = _digest([PROJECT_ROOT / "domain.yml", *_tree(data)], PROJECT_ROOT, salt)
    entry = CACHE / f"default-config-{key}"
    if not (entry / "config.yml").exists():
        entry.mkdir(parents=True, exist_ok=True)
        (entry / "config.yml").write_text(config, encoding="utf-8")  # Rasa may rewrite the file it trains with
    return _train(("--config", str(entry / "config.yml"), "--domain", str(PROJECT_ROOT / "domain.yml"),
                   "--data", str(data)), entry, entry / "default.tar.gz")


def rasa_init_model() -> Path:
    """The moodbot of ``rasa init --no-prompt``, trained in its own project copy."""
    source = _initial_project()
    key = _digest(_tree(source), source, importlib.metadata.version("rasa"))
    project = CACHE / f"rasa-init-{key}"
    if not (project / "domain.yml").exists():
        shutil.copytree(source, project, dirs_exist_ok=True, ignore=shutil.ignore_patterns("__pycache__"))
    return _train(("--config", "config.yml", "--domain", "domain.yml", "--data", "data"), project,
                  project / "models" / "rasa-init.tar.gz")


def kefu_ted_model() -> Path:
    """config.yml with TEDPolicy added back, trained on Kefu's domain and data."""
    config = yaml.safe_load((PROJECT_ROOT / "config.yml").read_text(encoding="utf-8"))
    config["policies"].append(dict(TED))
    text = yaml.safe_dump(config, sort_keys=False, allow_unicode=True)
    data = PROJECT_ROOT / "data"
    code = [*_tree(PROJECT_ROOT / "kefu" / "nlu"), PROJECT_ROOT / "kefu" / "dialogue" / "policies.py"]
    key = _digest([PROJECT_ROOT / "domain.yml", *_tree(data), *code], PROJECT_ROOT,
                  importlib.metadata.version("rasa") + text)
    entry = CACHE / f"kefu-ted-{key}"
    if not (entry / "config.yml").exists():
        entry.mkdir(parents=True, exist_ok=True)
        (entry / "config.yml").write_text(text, encoding="utf-8")
    return _train(("--config", str(entry / "config.yml"), "--domain", str(PROJECT_ROOT / "domain.yml"),
                   "--data", str(data)), PROJECT_ROOT, entry / "kefu-ted.tar.gz")


def kefu_model(path: Optional[Path]) -> Path:
    """Kefu's model as it is: trained (`make train`) only when the default one is missing."""
    model = path or KEFU_MODEL
    if not model.exists():
        if path is not None:
            raise FileNotFoundError(model)
        subprocess.run(["make", "train"], cwd=PROJECT_ROOT, check=True)
    return model


def _sqlite_tracker(endpoints: dict, tracker_db: Path, override: Optional[dict] = None) -> dict:
    """The bot's own SQLite tracker store class (Rasa's ``SQL`` when it names
    none) on ``tracker_db``."""
    own = endpoints.get("tracker_store") or {"type": "SQL"}
    store = {**own, "dialect": "sqlite", "db": str(tracker_db), **(override or {})}
    return {**endpoints, "tracker_store": store}


def _write_yaml(path: Path, content: dict) -> Path:
    path.write_text(yaml.safe_dump(content, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _fresh(workdir: Path) -> Path:
    """An empty working directory for one bot's run (the last run's is removed)."""
    shutil.rmtree(workdir, ignore_errors=True)
    workdir.mkdir(parents=True)
    return workdir


def require_free_ports() -> None:
    """Fail before starting anything if another process holds the benchmark's ports."""
    for port in (RASA_PORT, ACTION_PORT):
        with socket.socket() as probe:
            # as the servers do: connections of the last run in TIME_WAIT do not hold the port
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                raise RuntimeError(f"port {port} is in use: stop whatever listens there first") from None


def _launch_kefu_served(bot: Bot, workdir: Path) -> Supervisor:
    """Kefu's launcher on a fresh, seeded shop database and a fresh tracker database."""
    _fresh(workdir)
    database_url = f"sqlite:///{workdir / 'kefu.db'}"
    migrate(database_url)
    seed(make_engine(database_url))
    tracker_db = workdir / TRACKER_DB
    endpoints = yaml.safe_load((PROJECT_ROOT / "endpoints.yml").read_text(encoding="utf-8"))
    endpoints["action_endpoint"] = {**endpoints["action_endpoint"], **bot.action_endpoint}
    endpoints_file = _write_yaml(workdir / "endpoints.yml", _sqlite_tracker(endpoints, tracker_db, bot.tracker_store))
    env = {**QUIET, **bot.env, "DATABASE_URL": database_url, "KEFU_TRACKER_URL": f"sqlite:///{tracker_db}"}
    servers = embedded.start(model=str(bot.model), rasa_port=RASA_PORT, action_port=ACTION_PORT,
                             endpoints=str(endpoints_file), env=env, log_dir=workdir, timeout=START_TIMEOUT)
    return servers.supervisor


def _launch_rasa_run(bot: Bot, workdir: Path) -> Supervisor:
    """``rasa run`` on the moodbot with its own credentials (REST) and a SQLite tracker store."""
    _fresh(workdir)
    project = bot.model.parent.parent
    endpoints_file = _write_yaml(workdir / "endpoints.yml", _sqlite_tracker({}, workdir / TRACKER_DB))
    command = [commands.PYTHON, "-m", "rasa", "run", "--model", str(bot.model), "--port", str(RASA_PORT),
               "--interface", "127.0.0.1", "--endpoints", str(endpoints_file),
               "--credentials", str(project / "credentials.yml")]
    table = [Process("rasa", command, f"http://127.0.0.1:{RASA_PORT}/webhooks/rest/")]
    return Supervisor.of(table, embedded.environment(QUIET), workdir).start([["rasa"]], START_TIMEOUT)


def prepare(names: Iterable[str], kefu: Optional[Path] = None) -> Dict[str, Bot]:
    """The bots asked for, trained (or found in the cache), in the order asked."""
    try_again = (responses.text("utter_try_again", "zh"), responses.text("utter_try_again", "en"))
    makers: Dict[str, Callable[[], Bot]] = {
        "kefu": lambda: Bot("kefu", kefu_model(kefu), ORDER_SCRIPT, "rest:", try_again, _launch_kefu_served),
        "default-config": lambda: Bot("default-config", default_config_model(), ORDER_SCRIPT, "rest:", try_again,
                                      _launch_kefu_served),
        "rasa-init": lambda: Bot("rasa-init", rasa_init_model(), MOOD_SCRIPT, "", (), _launch_rasa_run),
    }
    for variant, changes in VARIANTS.items():
        makers[variant] = lambda changes=changes, variant=variant: replace(makers["kefu"](), name=variant, **changes)
    makers["kefu-ted"] = lambda: replace(makers["kefu"](), name="kefu-ted", model=kefu_ted_model())
    return {name: makers[name]() for name in names}
