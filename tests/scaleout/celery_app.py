"""The Celery app the worker tests start (a user's app: ours only adds the tasks).

Broker and result backend come from the environment the test sets for the workers.
"""

from __future__ import annotations

import os

from celery import Celery

app = Celery("expense-bridge-tests")
app.conf.update(
    broker_url=os.environ.get("EB_TEST_BROKER", "amqp://guest:guest@127.0.0.1:5672//"),
    result_backend=os.environ.get("EB_TEST_BACKEND", "redis://127.0.0.1:6379/0"),
    imports=["expense_bridge.celery"],
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
