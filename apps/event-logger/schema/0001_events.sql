-- Schema version 1 of the event-logger's PostgreSQL store: the events.
--
-- The logger applies each file of apps/event-logger/schema/ whose version
-- is not yet in event_logger_schema, in order, each in one transaction,
-- under an advisory lock (so two loggers starting at once apply it once).
-- A file is never edited once released, and never drops data: a change
-- is a new file with the next number.

CREATE TABLE events (
    event_id        uuid        PRIMARY KEY,
    -- Creation order: listings go oldest first and their cursor is the
    -- last event's place in it
    seq             bigint      GENERATED ALWAYS AS IDENTITY,
    user_id         text        NOT NULL
                    CHECK (octet_length (user_id) BETWEEN 1 AND 256),
    description     text        NOT NULL
                    CHECK (octet_length (description) BETWEEN 1 AND 4096),
    status          text        NOT NULL
                    CHECK (status ~ '^[a-z0-9_.-]{1,64}$'),
    -- Deliveries to the broker so far
    attempts        integer     NOT NULL DEFAULT 0,
    -- One more each time the event is explicitly queued again
    generation      integer     NOT NULL DEFAULT 0,
    -- The logger's wall clock, as the API shows them
    created_at      timestamptz NOT NULL,
    updated_at      timestamptz NOT NULL,
    -- The database's clock: when a pending or queued event is due for
    -- (re)delivery. A logger that claims an event moves it forward (a
    -- lease), so no other logger sends it meanwhile; NULL in every other
    -- status
    due_at          timestamptz,
    -- A client's Idempotency-Key for POST /events, kept as long as the event
    idempotency_key text
                    CHECK (idempotency_key ~ '^[!-~]{1,255}$')
);

CREATE UNIQUE INDEX events_seq ON events (seq);

-- Listing with a status filter (status=failed: the dead letters)
CREATE INDEX events_status_seq ON events (status, seq);

-- Listing with a user filter
CREATE INDEX events_user_seq ON events (user_id, seq);

-- What the dispatchers claim: only the events in flight, so the index
-- stays as small as the backlog however many processed events are kept
CREATE INDEX events_due ON events (due_at)
    WHERE status IN ('pending', 'queued');

-- One event per key, across every logger
CREATE UNIQUE INDEX events_idempotency_key ON events (idempotency_key)
    WHERE idempotency_key IS NOT NULL;
