"""``python -m kefu.desk.agents``: adding an agent from the command line."""
from __future__ import annotations

import pytest

from kefu.desk import agents
from kefu.store.db import make_engine
from kefu.store.desk import DeskStore


def test_add_an_agent_with_the_password_from_the_environment(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path / 'cli.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    monkeypatch.setenv("KEFU_AGENT_PASSWORD", "a good password")
    assert agents.main(["add", "Li", "--name", "小李", "--max-chats", "2"]) == 0
    assert agents.main(["add", "li", "--name", "again"]) == 1  # usernames are unique
    store = DeskStore(make_engine(url))
    [agent] = store.agents()
    assert (agent.username, agent.display_name, agent.max_concurrent) == ("li", "小李", 2)
    assert store.login("li", "a good password", 1)[2] == "ok"
    monkeypatch.setenv("KEFU_AGENT_PASSWORD", "short")
    with pytest.raises(SystemExit):
        agents.main(["add", "wang", "--name", "小王"])
