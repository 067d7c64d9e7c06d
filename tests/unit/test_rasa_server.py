"""The arguments Kefu gives ``rasa run`` mean what they say to Rasa's own
parser, whatever the generated secrets look like."""
import pytest

from kefu.ops.rasa_server import rasa_argv


@pytest.mark.parametrize("jwt_secret", ["-Jq3v_generated-url-safe-token", "--looks-like-an-option-x",
                                        "plain_secret_0123456789"])
def test_the_jwt_secret_reaches_rasa_whatever_its_first_character(monkeypatch, jwt_secret):
    """``secrets.token_urlsafe`` begins with "-" once in 64 draws; given as a
    separate argument, argparse took it for an option and Rasa exited with 2
    before it served (a CI run lost every API test that way)."""
    from rasa.__main__ import create_argument_parser

    monkeypatch.setenv("KEFU_RASA_JWT_SECRET", jwt_secret)
    argv = rasa_argv(5005, "models/kefu.tar.gz", "endpoints.yml", "credentials.yml", api=True,
                     cors=["https://shop.example"])
    options = create_argument_parser().parse_args(argv[1:])
    assert options.jwt_secret == jwt_secret
    assert options.enable_api and options.jwt_method == "HS256"
    assert options.cors == ["https://shop.example"] and options.port == 5005


def test_without_the_api_no_secret_is_given(monkeypatch):
    monkeypatch.setenv("KEFU_RASA_JWT_SECRET", "-never-on-the-command-line-0")
    argv = rasa_argv(5005, None, "endpoints.yml", "credentials.yml")
    assert not any("never-on-the-command-line" in part for part in argv) and "--enable-api" not in argv
