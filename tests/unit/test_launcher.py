"""Channels are off unless configured: the launcher hands Rasa only the
channels whose environment variables are set, and never writes a secret."""
import yaml

from kefu.ops.files import effective_credentials

CREDENTIALS = """
rest:
socketio:
  user_message_evt: user_uttered
telegram_channel.TelegramInput:
  token: ${TELEGRAM_BOT_TOKEN}
  api_base: ${TELEGRAM_API_BASE:-https://api.telegram.org/bot}
"""


def test_unconfigured_channels_are_left_out(tmp_path):
    source = tmp_path / "credentials.yml"
    source.write_text(CREDENTIALS)
    effective = yaml.safe_load(effective_credentials(source, {}, tmp_path / "out").read_text())
    assert set(effective) == {"rest", "socketio"}


def test_configured_channel_keeps_its_variable_and_gets_defaults(tmp_path):
    source = tmp_path / "credentials.yml"
    source.write_text(CREDENTIALS)
    out = effective_credentials(source, {"TELEGRAM_BOT_TOKEN": "123:secret"}, tmp_path / "out").read_text()
    assert "123:secret" not in out
    telegram = yaml.safe_load(out)["telegram_channel.TelegramInput"]
    assert telegram == {"token": "${TELEGRAM_BOT_TOKEN}", "api_base": "https://api.telegram.org/bot"}


def test_a_local_action_server_is_reached_on_its_port_a_remote_one_is_kept(tmp_path):
    from kefu.ops.files import effective_endpoints

    local = tmp_path / "local.yml"
    local.write_text('action_endpoint:\n  url: "http://localhost:5055/webhook"\ntracker_store:\n  type: SQL\n')
    out = yaml.safe_load(effective_endpoints(local, 6123, tmp_path / "a").read_text())
    assert out["action_endpoint"]["url"] == "http://127.0.0.1:6123/webhook" and out["tracker_store"] == {"type": "SQL"}
    remote = tmp_path / "remote.yml"
    remote.write_text('action_endpoint:\n  url: "http://actions.internal:8080/webhook"\n')
    out = yaml.safe_load(effective_endpoints(remote, 6123, tmp_path / "b").read_text())
    assert out["action_endpoint"]["url"] == "http://actions.internal:8080/webhook"


def test_the_action_token_stays_a_variable_rasa_fills_in(tmp_path, monkeypatch):
    """endpoints.yml names the action server's secret as ${KEFU_ACTION_TOKEN};
    the launcher's copy must keep it a plain scalar (Rasa expands only
    those) and never write the secret itself."""
    from pathlib import Path

    from rasa.core.utils import read_endpoints_from_path

    from kefu.ops.files import effective_endpoints

    monkeypatch.setenv("KEFU_ACTION_TOKEN", "a-secret-token-for-the-test")
    out = effective_endpoints(Path(__file__).resolve().parents[2] / "endpoints.yml", 6123, tmp_path)
    assert "a-secret-token-for-the-test" not in out.read_text()
    endpoints = read_endpoints_from_path(str(out))
    assert endpoints.action.headers == {"X-Kefu-Action-Token": "a-secret-token-for-the-test"}
