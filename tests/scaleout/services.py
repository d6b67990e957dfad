"""Services for tests: PostgreSQL, Redis and RabbitMQ on 127.0.0.1 (standard ports).

Each helper gives a fresh database / Redis key prefix / RabbitMQ vhost and removes it
afterwards. When a service does not answer, the test is skipped with a reason -- except
under ``CI=true``, where ``.ci/run`` starts the services and an absent one is a failure.
"""

from __future__ import annotations

import os
import socket
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

PG_HOST = os.environ.get("EXPENSE_BRIDGE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("EXPENSE_BRIDGE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("EXPENSE_BRIDGE_TEST_PG_USER", "postgres")
REDIS_URL = os.environ.get("EXPENSE_BRIDGE_TEST_REDIS", "redis://127.0.0.1:6379")
AMQP_HOST = "127.0.0.1"
AMQP_PORT = 5672


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def need(service: str, host: str, port: int) -> None:
    """Skip (or, under CI=true, fail) unless ``service`` answers on ``host:port``."""
    if _answers(host, port):
        return
    message = f"{service} is not answering on {host}:{port}"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{message} (CI=true: .ci/run starts it)")
    pytest.skip(message)


def admin_url(database: str = "postgres") -> str:
    """A plain ``postgresql://`` URL (no driver suffix: the store maps it to psycopg)."""
    return f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}"


@contextmanager
def postgres_database() -> Iterator[str]:
    """A fresh PostgreSQL database for one test; yields its plain URL, drops it after."""
    need("PostgreSQL", PG_HOST, PG_PORT)
    import psycopg

    name = f"eb_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield admin_url(name)
    finally:
        with psycopg.connect(
            host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
        ) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def terminate_connections(url: str) -> int:
    """Cut every server connection to the database of ``url`` (a connection loss)."""
    import psycopg

    name = url.rsplit("/", 1)[1]
    with psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True
    ) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = %s AND pid <> pg_backend_pid()",
            (name,),
        ).fetchall()
    return len(rows)


@contextmanager
def redis_prefix() -> Iterator[str]:
    """A Redis URL and a unique key prefix; keys under the prefix are deleted after."""
    need("Redis", "127.0.0.1", 6379)
    import redis

    prefix = f"eb-test-{uuid.uuid4().hex[:12]}"
    try:
        yield prefix
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)
        client.close()


@contextmanager
def rabbitmq_vhost() -> Iterator[str]:
    """A fresh RabbitMQ vhost for guest; yields its ``amqp://`` URL, deletes it after."""
    need("RabbitMQ", AMQP_HOST, AMQP_PORT)
    vhost = f"eb-test-{uuid.uuid4().hex[:12]}"
    subprocess.run(["rabbitmqctl", "-q", "add_vhost", vhost], check=True, timeout=60)
    try:
        subprocess.run(
            ["rabbitmqctl", "-q", "set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"],
            check=True,
            timeout=60,
        )
        yield f"amqp://guest:guest@{AMQP_HOST}:{AMQP_PORT}/{vhost}"
    finally:
        subprocess.run(["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, timeout=60)
