"""Channels are off unless configured: the launcher hands Rasa only the
channels whose environment variables are set, and never writes a secret."""
import yaml

from kefu.launcher import effective_credentials

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
