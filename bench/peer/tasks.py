"""The peer's Celery worker: prints the notification and reports it processed.

    Event {id} has been sent to {user}: {desc}

then PATCH {logger}/events/{id} {"status": "processed"} over HTTP (requests,
one keep-alive session per worker process), retrying with exponential
backoff on connection errors and 5xx.
"""
import os
import sys

import requests
from celery import Celery

REDIS_URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0")
LOGGER_URL = os.environ.get("PEER_LOGGER_URL", "http://127.0.0.1:8000").rstrip("/")

app = Celery("peer", broker=REDIS_URL)
app.conf.task_ignore_result = True
app.conf.worker_redirect_stdouts = False

_session = None


def session() -> requests.Session:
    global _session
    if _session is None:
        _session = requests.Session()
    return _session


class Retryable(Exception):
    pass


@app.task(name="tasks.send_notification", bind=True, autoretry_for=(Retryable, requests.ConnectionError,
          requests.Timeout), retry_backoff=True, retry_backoff_max=30, retry_jitter=True, max_retries=8)
def send_notification(self, event_id: str, user_id: str, description: str):
    print(f"Event {event_id} has been sent to {user_id}: {description}", flush=True)
    r = session().patch(f"{LOGGER_URL}/events/{event_id}", json={"status": "processed"}, timeout=10)
    if r.status_code >= 500:
        raise Retryable(f"logger answered {r.status_code}")
    if r.status_code >= 400:
        print(f"warn: event {event_id}: logger answered {r.status_code}, dropped", file=sys.stderr, flush=True)
