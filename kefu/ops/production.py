"""Kefu in production mode (``KEFU_PROFILE=production``): the servers Rasa
already supports, several processes of each kind, nginx in front.

    shoppers ─► nginx :5005 ─┬─► rasa #1 :5105 ─┐  tracker + lock store: Redis
      (webhooks, socket.io,  └─► rasa #N :510N ─┤  events: RabbitMQ (pika)
       widget pages only)                       │
              nginx :5055 ◄── action_endpoint ──┘  (X-Kefu-Action-Token)
                   ├─► action server #1 :5155 ─┐
                   └─► action server #M :515M ─┴─► shop data: PostgreSQL
              agent desk :5006 ─► nginx 127.0.0.1:5007 (Rasa API, JWT) , PostgreSQL

Every Rasa instance and action server listens on 127.0.0.1 (docker-compose:
the internal network); nginx publishes only what shoppers and platforms
call: the channel webhooks, socket.io and the widget's pages. Rasa's HTTP
API is reached by the desk through an internal listener and needs a JWT.

The operator sets URLs (``REDIS_URL``, ``DATABASE_URL``, ``RABBITMQ_URL``;
the profile defaults them to this machine's servers); this module derives
the ``KEFU_*`` variables that ``endpoints.production.yml`` reads.

Commands:

* ``python -m kefu.ops.production run`` (``make run-prod``): migrate and seed
  the shop if empty, write nginx.conf and the Procfile (the process table,
  for operators who run it with their own tool) under ``var/prod/``, run
  the table with Kefu's one supervisor (kefu/ops/supervisor.py), print where
  to talk to Kefu once the balancer answers.
* ``python -m kefu.ops.production rasa --port P``: one Rasa instance (what a
  docker-compose ``rasa`` service runs).
* ``python -m kefu.ops.production nginx-conf`` / ``procfile``: print the files.

Nginx is the balancer: a stock, well-kept proxy with upstream health
handling (a dead instance is skipped on connect errors), per-location
balancing (least_conn for REST and actions, ``ip_hash`` for socket.io,
whose long-polling transport needs sticky sessions) and ``error_page`` to
turn a dead or failing upstream into a polite "please try again" instead of
a bare 502.
"""
from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Mapping, Optional
from urllib.parse import unquote, urlparse

from kefu.core import responses
from kefu.core.config import PROJECT_ROOT, EvidenceOptions, Settings, load_settings
from kefu.ops import commands, embedded
from kefu.ops.files import effective_credentials
from kefu.ops.supervisor import Process, Stopping, Supervisor

MODEL = PROJECT_ROOT / "models" / "kefu.tar.gz"
ENDPOINTS = PROJECT_ROOT / "endpoints.production.yml"
EVENTS_QUEUE = "kefu_events"
EVENTS_EXCHANGE = "kefu-events"

#: what the REST channel answers when no Rasa instance could (a list of
#: messages, like a normal reply, with status 503 and Retry-After).
BUSY_REPLY = json.dumps([{"recipient_id": "", "text": responses.both("utter_try_again")}], ensure_ascii=False)
#: the paths nginx publishes: what platforms and shoppers' browsers call
PUBLIC_LOCATIONS = ("/webhooks/rest/", "/webhooks/wechat/", "/webhooks/telegram/", "/webhooks/webchat/", "/socket.io/",
                    "/webchat/")
#: room above the photo limit for the upload's headers: the app, not nginx,
#: refuses a photo that is too big, with its polite answer (channels/webchat.py)
UPLOAD_SLACK_BYTES = 1_000_000
#: what the action balancer answers when no action server could: the
#: backend-down answer, then listen (so that no form loops on an action
#: that cannot run).
ACTION_DOWN_REPLY = ('{"events": [{"event": "followup", "name": "action_listen"}], '
                     '"responses": [{"response": "utter_backend_down"}]}')


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if not found:
        raise RuntimeError("nginx is not installed: `apt-get install nginx-light` (make run-prod does it as root)")
    return found


@dataclass
class Layout:
    """Ports of every process (all on 127.0.0.1 here; one host per service
    in docker-compose)."""

    rasa_ports: List[int]
    action_ports: List[int]
    port: int = 5005  # the balancer: webhooks, socket.io, widget pages
    action_port: int = 5055  # the balancer for the action servers
    desk_port: Optional[int] = 5006
    run_dir: Path = PROJECT_ROOT / "var" / "prod"
    model: Path = MODEL
    api_port: int = 5007  # Rasa's HTTP API for the desk, on 127.0.0.1 only

    @classmethod
    def default(cls, rasa: int, actions: int, port: int = 5005, action_port: int = 5055,
                desk_port: Optional[int] = 5006, run_dir: Optional[Path] = None) -> "Layout":
        return cls([port + 100 + i for i in range(rasa)], [action_port + 100 + i for i in range(actions)],
                   port, action_port, desk_port, run_dir or PROJECT_ROOT / "var" / "prod")

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def action_url(self) -> str:
        return f"http://127.0.0.1:{self.action_port}/webhook"

    @property
    def api_url(self) -> str:
        return f"http://127.0.0.1:{self.api_port}"


def derived_env(settings: Settings, action_url: str) -> Dict[str, str]:
    """The variables endpoints.production.yml reads, from the URLs."""
    if not settings.redis_url:
        raise ValueError("the production profile needs REDIS_URL")
    if not settings.rabbitmq_url:
        raise ValueError("the production profile needs RABBITMQ_URL")
    redis = urlparse(settings.redis_url)
    if redis.scheme not in ("redis", "rediss"):
        raise ValueError(f"REDIS_URL must be redis://host:port/db, not {settings.redis_url!r}")
    rabbit = urlparse(settings.rabbitmq_url)
    if rabbit.scheme not in ("amqp", "amqps"):
        raise ValueError(f"RABBITMQ_URL must be amqp://user:password@host:port/, not {settings.rabbitmq_url!r}")
    return {
        "KEFU_PROFILE": "production",
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url,
        "RABBITMQ_URL": settings.rabbitmq_url,
        "KEFU_REDIS_HOST": redis.hostname or "127.0.0.1",
        "KEFU_REDIS_PORT": str(redis.port or 6379),
        "KEFU_REDIS_DB": (redis.path or "/0").strip("/") or "0",
        "KEFU_REDIS_PASSWORD": unquote(redis.password or ""),
        "KEFU_RABBITMQ_HOST": rabbit.hostname or "127.0.0.1",
        "KEFU_RABBITMQ_PORT": str(rabbit.port or 5672),
        "KEFU_RABBITMQ_USER": unquote(rabbit.username or "guest"),
        "KEFU_RABBITMQ_PASSWORD": unquote(rabbit.password or "guest"),
        "KEFU_EVENTS_QUEUE": settings.events_queue,
        "KEFU_EVENTS_EXCHANGE": settings.events_exchange,
        "KEFU_ACTION_URL": settings.action_url or action_url,
    }


def nginx_conf(rasa: List[str], actions: List[str], port: int, action_port: int, run_dir: Path,
               pid: bool = True, listen_host: str = "127.0.0.1", api_port: int = 5007,
               api_host: str = "127.0.0.1", photo_bytes: int = EvidenceOptions().max_bytes) -> str:
    """nginx.conf for the balancers; ``rasa`` and ``actions`` are host:port.
    The public listener passes on only :data:`PUBLIC_LOCATIONS`; Rasa's API
    gets a listener of its own on ``api_host`` (never published). The
    widget's photo upload and service record (``/webhooks/webchat/``) take
    bodies up to ``photo_bytes`` and some, streamed to Rasa unbuffered."""
    def servers(addresses: List[str]) -> str:
        return "".join(f"        server {a} max_fails=1 fail_timeout=5s;\n" for a in addresses)

    proxied = """            proxy_set_header Connection "";
            proxy_pass http://kefu_rasa;"""
    public = {
        "/webhooks/rest/": """            proxy_set_header Connection "";
            proxy_intercept_errors on;
            error_page 500 502 503 504 = @busy;
            proxy_pass http://kefu_rasa;""",
        "/webhooks/wechat/": proxied,
        "/webhooks/telegram/": proxied,
        "/webhooks/webchat/": f"""            client_max_body_size {-(-(photo_bytes + UPLOAD_SLACK_BYTES) // 1024)}k;
            proxy_request_buffering off;
{proxied}""",
        "/socket.io/": """            proxy_set_header Upgrade $http_upgrade;
            proxy_set_header Connection $connection_upgrade;
            proxy_pass http://kefu_rasa_sticky;""",
        "/webchat/": proxied,
    }
    assert tuple(public) == PUBLIC_LOCATIONS
    locations = "".join(f"        location {path} {{\n{body}\n        }}\n" for path, body in public.items())
    return f"""# generated by kefu.ops.production: the balancer in front of Rasa and the action servers
worker_processes 1;
error_log stderr warn;
{f'pid {run_dir / "nginx.pid"};' if pid else ''}
events {{ worker_connections 4096; }}

http {{
    access_log off;
    server_tokens off;
    client_body_temp_path {run_dir}/nginx-body;
    proxy_temp_path {run_dir}/nginx-proxy;
    fastcgi_temp_path {run_dir}/nginx-fastcgi;
    uwsgi_temp_path {run_dir}/nginx-uwsgi;
    scgi_temp_path {run_dir}/nginx-scgi;
    client_max_body_size 2m;
    client_body_buffer_size 2m;  # action requests stay in memory: $request_body below

    # idle connections to Rasa and the action servers are closed here after 4 s,
    # before their Sanic servers close them (after 5 s): otherwise nginx may
    # send a request on a connection the server is closing, and gets a reset
    # (seen under load as "please try again" for a shopper's message)
    upstream kefu_rasa {{
        least_conn;
{servers(rasa)}        keepalive 32;
        keepalive_timeout 4s;
    }}
    # socket.io long-polling keeps a session in one process: sticky by address
    upstream kefu_rasa_sticky {{
        ip_hash;
{servers(rasa)}    }}
    upstream kefu_actions {{
        least_conn;
{servers(actions)}        keepalive 32;
        keepalive_timeout 4s;
    }}

    map $http_upgrade $connection_upgrade {{ default upgrade; "" ""; }}

    # shoppers and platforms: the webhooks, socket.io and the widget's pages;
    # Rasa's HTTP API and anything else is not found from outside
    server {{
        listen {listen_host}:{port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header X-Real-IP $remote_addr;
        proxy_set_header X-Forwarded-For $remote_addr;
        proxy_read_timeout 120s;
        proxy_connect_timeout 2s;
        # a dead instance: try the next one if the request never reached it
        proxy_next_upstream error timeout http_502 http_503;
        proxy_next_upstream_tries 3;

{locations}        location / {{
            default_type application/json;
            return 404 '{{"error": "not_found"}}';
        }}
        location @busy {{
            default_type "application/json; charset=utf-8";
            add_header Retry-After 2 always;
            return 503 '{BUSY_REPLY}';
        }}
    }}

    # Rasa's HTTP API, for the agent desk only (a JWT is still required)
    server {{
        listen {api_host}:{api_port};
        proxy_http_version 1.1;
        proxy_set_header Host $host;
        proxy_set_header Connection "";
        proxy_read_timeout 60s;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;
        location / {{
            proxy_pass http://kefu_rasa;
        }}
    }}

    server {{
        listen {api_host}:{action_port};
        proxy_http_version 1.1;
        proxy_set_header Connection "";
        proxy_read_timeout 60s;
        proxy_connect_timeout 2s;
        proxy_next_upstream error timeout;  # never re-run an action that was sent
        location / {{
            proxy_intercept_errors on;
            error_page 500 502 503 504 = @actions_down;
            proxy_pass http://kefu_actions;
        }}
        location @actions_down {{
            default_type application/json;
            return 200 '{ACTION_DOWN_REPLY}';
        }}
    }}
}}
"""


def compose_nginx_conf() -> str:
    """deploy/nginx.conf: the same balancer for docker-compose, where the
    ``rasa`` and ``actions`` services have several replicas (nginx adds every
    address a name resolves to at start)."""
    return nginx_conf(["rasa:5005"], ["actions:5055"], 5005, 5055, Path("/var/cache/nginx"),
                      pid=False, listen_host="0.0.0.0", api_host="0.0.0.0")


def rasa_command(port: int, model: Path, credentials: Path, host: str = "127.0.0.1") -> List[str]:
    """One Rasa instance of the cluster (Procfile line and docker-compose),
    with the JWT-protected API the desk uses."""
    return commands.rasa(port, ENDPOINTS, credentials, model, host=host, api=True)


def local_nginx_conf(layout: Layout) -> str:
    """The balancer for processes on this machine, on the layout's ports."""
    return nginx_conf([f"127.0.0.1:{p}" for p in layout.rasa_ports], [f"127.0.0.1:{p}" for p in layout.action_ports],
                      layout.port, layout.action_port, layout.run_dir, api_port=layout.api_port,
                      photo_bytes=load_settings().evidence.max_bytes)


def process_table(layout: Layout, credentials: Path) -> List[Process]:
    """Every process of the cluster with its health URL (the Procfile's lines)."""
    table = [Process(f"actions{i}", commands.actions(port), f"http://127.0.0.1:{port}/health")
             for i, port in enumerate(layout.action_ports, 1)]
    table.append(Process("balancer", [nginx_binary(), "-p", str(layout.run_dir), "-c",
                                      str(layout.run_dir / "nginx.conf"), "-g", "daemon off;"],
                         f"{layout.url}/webhooks/rest/"))
    table += [Process(f"rasa{i}", rasa_command(port, layout.model, credentials),
                      f"http://127.0.0.1:{port}/webhooks/rest/") for i, port in enumerate(layout.rasa_ports, 1)]
    if layout.desk_port:
        table.append(Process("desk", ["env", f"KEFU_DESK_PORT={layout.desk_port}", f"KEFU_RASA_URL={layout.api_url}",
                                      *commands.desk()], f"http://127.0.0.1:{layout.desk_port}/healthz"))
    return table


def start_groups(table: List[Process]) -> List[List[str]]:
    """The order the processes start in: action servers, Rasa, the balancer
    (whose health check goes through to a Rasa instance, so it answers only
    once one does), the desk."""
    names = [p.name for p in table]
    return [[n for n in names if n.startswith(prefix)] for prefix in ("actions", "rasa", "balancer", "desk")
            if any(n.startswith(prefix) for n in names)]


def procfile(table: List[Process]) -> str:
    return "".join(f"{p.name}: {shlex.join(p.command)}\n" for p in table)


class ServerDown(RuntimeError):
    """A server the profile needs does not answer (message names it, its
    variable and its URL without the password)."""


def _masked(url: str) -> str:
    parsed = urlparse(url)
    if not parsed.password:
        return url
    return parsed._replace(netloc=parsed.netloc.replace(f":{parsed.password}@", ":***@")).geturl()


def _down(what: str, variable: str, url: str, error: Exception) -> ServerDown:
    return ServerDown(f"{what} at {_masked(url)} does not answer ({type(error).__name__}: {error}). "
                      f"Start it, or point {variable} at one; `make run` runs Kefu without any server.")


def check_servers(settings: Settings) -> None:
    """Fail early and clearly when Redis or RabbitMQ is not there (e.g. on a
    laptop), instead of a connection traceback from deep inside Rasa."""
    import socket

    import redis

    try:
        redis.Redis.from_url(settings.redis_url or "", socket_connect_timeout=3).ping()
    except (redis.RedisError, OSError) as error:
        raise _down("Redis", "REDIS_URL", settings.redis_url or "", error) from error
    rabbit = urlparse(settings.rabbitmq_url or "")
    try:
        socket.create_connection((rabbit.hostname or "127.0.0.1", rabbit.port or 5672), timeout=3).close()
    except OSError as error:
        raise _down("RabbitMQ", "RABBITMQ_URL", settings.rabbitmq_url or "", error) from error


def prepare(settings: Settings, run_dir: Path, env: Mapping[str, str], seed_orders: int = 3000) -> Path:
    """Check Redis and RabbitMQ answer, migrate and seed the shop if empty,
    write the effective credentials; returns the credentials file."""
    from sqlalchemy.exc import OperationalError

    from kefu.store.db import make_engine, migrate
    from kefu.store.seed import seed

    check_servers(settings)
    try:
        migrate(settings.database_url)
    except OperationalError as error:
        raise _down("PostgreSQL", "DATABASE_URL", settings.database_url, error.orig or error) from error
    engine = make_engine(settings.database_url)
    seed(engine, orders=seed_orders)
    engine.dispose()
    run_dir.mkdir(parents=True, exist_ok=True)  # nginx creates its temp dirs there for its workers
    return effective_credentials(PROJECT_ROOT / "credentials.yml", env, run_dir)


def configure(layout: Layout, env: Optional[Mapping[str, str]] = None, seed_orders: int = 3000) -> Supervisor:
    """Everything ready, nothing started: the servers checked, the shop
    migrated and seeded, nginx.conf and the Procfile written. ``env``
    overrides the process environment."""
    environment = {**embedded.environment(dict(env or {})), "KEFU_PROFILE": "production"}
    settings = load_settings(environment)
    environment.update(derived_env(settings, layout.action_url))
    layout.run_dir.mkdir(parents=True, exist_ok=True)
    credentials = prepare(settings, layout.run_dir, environment, seed_orders)
    (layout.run_dir / "nginx.conf").write_text(local_nginx_conf(layout), encoding="utf-8")
    table = process_table(layout, credentials)
    (layout.run_dir / "Procfile").write_text(procfile(table), encoding="utf-8")
    return Supervisor.of(table, environment, layout.run_dir)


def start(layout: Layout, env: Optional[Mapping[str, str]] = None, seed_orders: int = 3000,
          timeout: float = 600) -> Supervisor:
    """:func:`configure`, then every process started, in order, answering."""
    supervisor = configure(layout, env, seed_orders)
    return supervisor.start(start_groups(list(supervisor.processes.values())), timeout)


def run(layout: Layout) -> int:
    """`make run-prod`: the process table under the supervisor, until Ctrl-C."""
    stopping = Stopping().install()
    supervisor = configure(layout)
    try:
        supervisor.start(start_groups(list(supervisor.processes.values())), timeout=600)
        print(
            f"\nKefu (production profile) is running: {len(layout.rasa_ports)} Rasa instances, "
            f"{len(layout.action_ports)} action servers behind nginx.\n"
            f"  REST:       curl -s {layout.url}/webhooks/rest/webhook -H 'Content-Type: application/json' "
            "-d '{\"sender\": \"me\", \"message\": \"你好\"}'\n"
            f"  web widget: {layout.url}/webchat/demo\n"
            + (f"  agent desk: http://127.0.0.1:{layout.desk_port}/\n" if layout.desk_port else "")
            + f"  tracker + lock store: {supervisor.env['REDIS_URL']}; events: RabbitMQ queue "
            f"{supervisor.env['KEFU_EVENTS_QUEUE']}; shop: {supervisor.env['DATABASE_URL'].split('@')[-1]}\n"
            f"  logs: {layout.run_dir}/*.log\n"
            "Press Ctrl-C to stop.\n", flush=True)
        supervisor.watch(stopping)
    finally:
        supervisor.stop()
    return 0


def exec_rasa(port: int, model: Path) -> None:
    """One Rasa instance (docker-compose): derive the variables, exec Rasa,
    listening on the container's internal network (never published)."""
    settings = load_settings()
    env = {**os.environ, **derived_env(settings, settings.action_url or "http://127.0.0.1:5055/webhook")}
    credentials = effective_credentials(PROJECT_ROOT / "credentials.yml", env, settings.run_dir)
    command = rasa_command(port, model, credentials, host=settings.rasa_host)
    os.execve(command[0], command, env)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description="Kefu's production profile: Redis, PostgreSQL, RabbitMQ, "
                                                 "N Rasa instances and M action servers behind nginx.")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in ("run", "procfile", "nginx-conf"):
        p = sub.add_parser(name)
        p.add_argument("--rasa", type=int, default=None, help="Rasa instances (KEFU_RASA_INSTANCES, default 2)")
        p.add_argument("--actions", type=int, default=None, help="action servers (KEFU_ACTION_INSTANCES, default 2)")
        p.add_argument("--port", type=int, default=5005)
        p.add_argument("--action-port", type=int, default=5055)
        p.add_argument("--desk-port", type=int, default=5006, help="0: no agent desk")
        p.add_argument("--compose", action="store_true", help="nginx-conf: deploy/nginx.conf for docker-compose")
    p = sub.add_parser("rasa", help="exec one Rasa instance (docker-compose)")
    p.add_argument("--port", type=int, default=5005)
    p.add_argument("--model", default=str(MODEL))
    args = parser.parse_args(argv)
    os.environ["KEFU_PROFILE"] = "production"
    if args.command == "rasa":
        exec_rasa(args.port, Path(args.model))
        return 1
    settings = load_settings()
    layout = Layout.default(args.rasa or settings.rasa_instances, args.actions or settings.action_instances,
                            args.port, args.action_port, args.desk_port or None)
    if args.command == "run":
        try:
            return run(layout)
        except ServerDown as down:
            print(f"kefu: {down}", file=sys.stderr)
            return 2
    if args.command == "nginx-conf" and args.compose:
        print(compose_nginx_conf(), end="")
        return 0
    if args.command == "nginx-conf":
        print(local_nginx_conf(layout), end="")
        return 0
    credentials = layout.run_dir / "credentials.effective.yml"
    print(procfile(process_table(layout, credentials)), end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
