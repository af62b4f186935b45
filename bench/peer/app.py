"""The peer: the same event API in the usual Python stack (FastAPI + uvicorn).

A small, faithful implementation used only as a yardstick by bench/run.sh:
POST /events (pydantic validation) -> 201 + Location, GET /events/{id},
PATCH /events/{id}, GET /events?status=&user_id=&limit=&after= (oldest
first, cursor = position), an in-memory dict, and each new event pushed to a
Celery task on Redis (see tasks.py).  Run it with the system python
(/usr/bin/python3): Debian's python3-fastapi, python3-uvicorn, python3-celery.
"""
import os
import threading
import uuid
from datetime import datetime, timezone
from typing import Optional

from celery import Celery
from fastapi import FastAPI, HTTPException, Query, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Extra, constr

REDIS_URL = os.environ.get("PEER_REDIS_URL", "redis://127.0.0.1:6379/0")
TASK_NAME = "tasks.send_notification"

celery_app = Celery("peer", broker=REDIS_URL)
celery_app.conf.task_ignore_result = True

app = FastAPI(title="event-logger (peer)")

events = {}  # event_id -> event dict
order = []  # event ids, oldest first
lock = threading.Lock()


def now_rfc3339() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")


class EventIn(BaseModel):
    user_id: constr(strict=True, min_length=1, max_length=256)
    description: constr(strict=True, min_length=1, max_length=4096)

    class Config:
        extra = Extra.forbid


class StatusIn(BaseModel):
    status: constr(strict=True, regex=r"^[a-z0-9_.-]{1,64}$")

    class Config:
        extra = Extra.forbid


def problem(status: int, title: str, detail: str, errors=None) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    return JSONResponse(body, status_code=status, media_type="application/problem+json")


@app.exception_handler(RequestValidationError)
def on_validation_error(request: Request, exc: RequestValidationError):
    errors = [{"field": ".".join(str(p) for p in e["loc"][1:]), "message": e["msg"]} for e in exc.errors()]
    return problem(422, "Unprocessable Content", "the payload does not match the schema", errors)


@app.exception_handler(HTTPException)
def on_http_error(request: Request, exc: HTTPException):
    return problem(exc.status_code, str(exc.detail), str(exc.detail))


def get_or_404(event_id: str) -> dict:
    try:
        uuid.UUID(event_id)
    except ValueError:
        raise HTTPException(400, "Bad Request")
    ev = events.get(event_id)
    if ev is None:
        raise HTTPException(404, "Not Found")
    return ev


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post("/events", status_code=201)
def create_event(body: EventIn, response: Response):
    now = now_rfc3339()
    ev = {
        "event_id": str(uuid.uuid4()),
        "user_id": body.user_id,
        "description": body.description,
        "status": "pending",
        "created_at": now,
        "updated_at": now,
        "attempts": 0,
    }
    with lock:
        events[ev["event_id"]] = ev
        order.append(ev["event_id"])
    celery_app.send_task(TASK_NAME, args=[ev["event_id"], ev["user_id"], ev["description"]])
    ev["status"] = "queued"
    ev["attempts"] = 1
    response.headers["Location"] = f"/events/{ev['event_id']}"
    return ev


@app.get("/events/{event_id}")
def read_event(event_id: str):
    return get_or_404(event_id)


@app.patch("/events/{event_id}")
def patch_event(event_id: str, body: StatusIn):
    ev = get_or_404(event_id)
    ev["status"] = body.status
    ev["updated_at"] = now_rfc3339()
    return ev


@app.get("/events")
def list_events(
    status: Optional[str] = None,
    user_id: Optional[str] = None,
    limit: int = Query(100, ge=1, le=1000),
    after: Optional[int] = Query(None, ge=0),
):
    start = after or 0
    items = []
    pos = start
    with lock:
        ids = order[start:]
    for eid in ids:
        pos += 1
        ev = events[eid]
        if status is not None and ev["status"] != status:
            continue
        if user_id is not None and ev["user_id"] != user_id:
            continue
        items.append(ev)
        if len(items) == limit:
            break
    nxt = pos if (len(items) == limit and pos < len(order)) else None
    return {"items": items, "next": nxt}
