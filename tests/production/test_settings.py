"""KEFU_PROFILE=production: the one setting; endpoints and deploy files."""
from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from kefu.core.config import load_settings
from kefu.core.secrets import SECRETS
from kefu.ops.production import (
    ENDPOINTS,
    ServerDown,
    check_servers,
    compose_nginx_conf,
    derived_env,
    main,
    nginx_conf,
    prepare,
)
from tests.conftest import IN_CI

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_embedded_is_the_default(monkeypatch):
    for name in ("KEFU_PROFILE", "REDIS_URL", "DATABASE_URL", "RABBITMQ_URL"):
        monkeypatch.delenv(name, raising=False)
    settings = load_settings()
    assert settings.profile == "embedded"
    assert settings.database_url.startswith("sqlite:///") and settings.redis_url is None
    assert settings.rabbitmq_url is None and settings.rasa_instances == 1


def test_production_profile_defaults_to_this_machines_servers(monkeypatch):
    for name in ("REDIS_URL", "DATABASE_URL", "RABBITMQ_URL", "KEFU_RASA_INSTANCES"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("KEFU_PROFILE", "production")
    settings = load_settings()
    assert settings.database_url.startswith("postgresql://")
    assert settings.redis_url.startswith("redis://") and settings.rabbitmq_url.startswith("amqp://")
    assert settings.rasa_instances == 2 and settings.action_instances == 2
    monkeypatch.setenv("REDIS_URL", "redis://cache:6380/3")
    assert load_settings().redis_url == "redis://cache:6380/3"
    monkeypatch.setenv("KEFU_PROFILE", "prod-ish")
    with pytest.raises(ValueError):
        load_settings()


def test_settings_follow_the_environment_though_they_are_kept(monkeypatch):
    """load_settings keeps what it read per snapshot of the environment: the
    same environment gives the same settings without reading them again, a
    changed or restored one gives its own at once."""
    monkeypatch.delenv("KEFU_PROOF_TTL_SECONDS", raising=False)
    first = load_settings()
    assert load_settings() is first and first.proof_ttl_seconds == 1800
    monkeypatch.setenv("KEFU_PROOF_TTL_SECONDS", "60")
    assert load_settings().proof_ttl_seconds == 60
    monkeypatch.delenv("KEFU_PROOF_TTL_SECONDS")
    assert load_settings().proof_ttl_seconds == 1800
    assert load_settings({"KEFU_PROOF_TTL_SECONDS": "90"}).proof_ttl_seconds == 90


def test_derived_variables_fill_every_variable_of_the_production_endpoints(monkeypatch):
    monkeypatch.setenv("KEFU_PROFILE", "production")
    monkeypatch.setenv("REDIS_URL", "redis://:s%40cret@cache:6380/3")
    monkeypatch.setenv("RABBITMQ_URL", "amqp://kefu:pw@mq:5673/")
    env = derived_env(load_settings(), "http://lb:5055/webhook")
    assert env["KEFU_REDIS_HOST"] == "cache" and env["KEFU_REDIS_PORT"] == "6380" and env["KEFU_REDIS_DB"] == "3"
    assert env["KEFU_REDIS_PASSWORD"] == "s@cret"
    assert (env["KEFU_RABBITMQ_HOST"], env["KEFU_RABBITMQ_USER"], env["KEFU_RABBITMQ_PORT"]) == ("mq", "kefu", "5673")
    text = ENDPOINTS.read_text(encoding="utf-8")
    used = set(re.findall(r"\$\{(\w+)\}", text))
    shared = set(SECRETS.values())  # the shared secrets: kefu/ops/rasa_server.py puts them in Rasa's environment
    assert used <= set(env) | shared, used - set(env) - shared
    assert "KEFU_ACTION_TOKEN" in used
    assert not re.search(r"[\"']\$\{", text), "Rasa only expands unquoted ${VAR}"
    endpoints = yaml.safe_load(text)
    assert endpoints["tracker_store"]["type"] == "kefu.dialogue.tracker_store.SessionRedisTrackerStore"
    assert endpoints["lock_store"]["type"] == "kefu.dialogue.lock_store.PromptRedisLockStore"
    assert endpoints["event_broker"]["type"] == "pika"


def test_the_balancer_config_is_valid_nginx(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        if IN_CI:
            pytest.fail("nginx must be installed under CI (make test installs it)")
        pytest.skip("nginx is not installed (make test and make run-prod install it as root)")
    conf = nginx_conf(["127.0.0.1:1"], ["127.0.0.1:2"], 18080, 18081, tmp_path)
    (tmp_path / "nginx.conf").write_text(conf, encoding="utf-8")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    # the compose variant too, with the service names resolved here
    compose = compose_nginx_conf().replace("rasa:5005", "127.0.0.1:1").replace("actions:5055", "127.0.0.1:2")
    compose = compose.replace("/var/cache/nginx", str(tmp_path)).replace("0.0.0.0:", "127.0.0.1:")
    (tmp_path / "compose.conf").write_text(compose + f"pid {tmp_path}/c.pid;\n", encoding="utf-8")
    result = subprocess.run([nginx, "-t", "-p", str(tmp_path), "-c", str(tmp_path / "compose.conf")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_the_balancer_publishes_only_the_public_paths(tmp_path):
    from kefu.ops.production import PUBLIC_LOCATIONS

    conf = nginx_conf(["127.0.0.1:1"], ["127.0.0.1:2"], 18080, 18081, tmp_path)
    public = conf.split("listen 127.0.0.1:18080;", 1)[1].split("server {", 1)[0]
    locations = [line.split()[1] for line in public.splitlines() if line.strip().startswith("location ")]
    assert locations == [*PUBLIC_LOCATIONS, "/", "@busy"]
    assert "return 404" in public.split("location / {", 1)[1].split("}", 1)[0]
    assert "X-Real-IP $remote_addr" in public


def test_deploy_nginx_conf_is_the_generated_one():
    shipped = (DEPLOY / "nginx.conf").read_text(encoding="utf-8").split("\n", 1)[1]
    assert shipped == compose_nginx_conf().split("\n", 1)[1], \
        "regenerate: python -m kefu.ops.production nginx-conf --compose > deploy/nginx.conf"


def test_docker_compose_has_every_service_and_the_production_environment():
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"redis", "postgres", "rabbitmq", "migrate", "rasa", "actions", "desk", "nginx"} <= set(services)
    for name in ("rasa", "actions", "desk", "migrate"):
        env = services[name]["environment"]
        assert env["KEFU_PROFILE"] == "production"
        assert env["DATABASE_URL"].startswith("postgresql://") and "@postgres:5432/" in env["DATABASE_URL"]
        assert env["REDIS_URL"].startswith("redis://redis:")
        assert env["RABBITMQ_URL"].startswith("amqp://") and "@rabbitmq:5672" in env["RABBITMQ_URL"]
        assert env["KEFU_ACTION_URL"] == "http://nginx:5055/webhook"
    assert services["rasa"]["command"][:3] == ["python", "-m", "kefu.ops.production"]
    assert "replicas" in services["rasa"]["deploy"] and "replicas" in services["actions"]["deploy"]
    assert services["desk"]["environment"]["KEFU_RASA_URL"] == "http://nginx:5007"  # the API's internal listener
    # only the balancer's public side and the desk are published; every secret comes from deploy/.env
    published = {name: s.get("ports") for name, s in services.items() if s.get("ports")}
    assert published == {"nginx": ["5005:5005"], "desk": ["5006:5006"]}
    for variable in ("KEFU_ID_KEY", "KEFU_ACTION_TOKEN", "KEFU_RASA_JWT_SECRET", "KEFU_WIDGET_KEY"):
        assert services["rasa"]["environment"][variable] == f"${{{variable}:?set {variable}}}"
    assert services["rasa"]["environment"]["KEFU_SECRETS_FROM_ENV"] == "1"
    assert services["actions"]["command"][:3] == ["python", "-m", "kefu.ops.action_server"]
    assert any("nginx.conf" in v for v in services["nginx"]["volumes"])
    assert "--appendonly" in services["redis"]["command"]
    # no secret in the file: passwords come from the environment / deploy/.env
    text = (DEPLOY / "docker-compose.yml").read_text(encoding="utf-8")
    assert "${POSTGRES_PASSWORD:?" in text and "${RABBITMQ_PASSWORD:?" in text
    dockerfile = (DEPLOY / "Dockerfile").read_text(encoding="utf-8")
    assert "requirements.lock" in dockerfile and "requirements-rasa.lock" in dockerfile


def test_an_absent_server_is_named_with_its_variable_and_no_password(monkeypatch, capsys):
    monkeypatch.setenv("KEFU_PROFILE", "production")
    monkeypatch.setenv("REDIS_URL", "redis://:s3cret-pw@127.0.0.1:9/0")  # nothing listens on port 9
    monkeypatch.setenv("RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:9/")
    with pytest.raises(ServerDown) as down:
        check_servers(load_settings())
    assert "Redis at redis://:***@127.0.0.1:9/0" in str(down.value) and "REDIS_URL" in str(down.value)
    assert "s3cret-pw" not in str(down.value)
    # make run-prod: one clear line and exit status 2, not a traceback
    assert main(["run", "--desk-port", "0"]) == 2
    error = capsys.readouterr().err
    assert error.startswith("kefu: Redis at") and "make run" in error and "s3cret-pw" not in error


def test_rabbitmq_and_postgresql_absent_are_named_too(monkeypatch, redis_url, rabbitmq_url, tmp_path):
    monkeypatch.setenv("KEFU_PROFILE", "production")
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("RABBITMQ_URL", "amqp://kefu:mq-pw@127.0.0.1:9/")
    with pytest.raises(ServerDown, match=r"RabbitMQ at amqp://kefu:\*\*\*@127.0.0.1:9/ .*RABBITMQ_URL"):
        check_servers(load_settings())
    monkeypatch.setenv("RABBITMQ_URL", rabbitmq_url)
    monkeypatch.setenv("DATABASE_URL", "postgresql://kefu:pg-pw@127.0.0.1:9/kefu")
    with pytest.raises(ServerDown) as down:
        prepare(load_settings(), tmp_path, {})
    assert str(down.value).startswith("PostgreSQL at postgresql://kefu:***@127.0.0.1:9/kefu")
    assert "pg-pw" not in str(down.value) and "DATABASE_URL" in str(down.value)
