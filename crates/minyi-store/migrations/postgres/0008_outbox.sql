-- Several nodes on one database, and life-cycle events for other systems.
--
-- job_leases: a background job (the clock sweeper, the outbox publisher) runs on the node that
-- holds its lease; a node takes a lease that is free or expired with one conditional upsert and
-- renews it on every run. Times are epoch milliseconds of the database's clock.
CREATE TABLE job_leases (
    job TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    expires_at BIGINT NOT NULL
);

-- reference_version: one row, bumped in the same transaction as every write to reference data
-- (divisions, units, catalogue, rules, calendar, settings), so each node can tell in one cheap
-- read whether its cached copy is stale.
CREATE TABLE reference_version (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    version BIGINT NOT NULL
);
INSERT INTO reference_version (id, version) VALUES (1, 0);

-- outbox: life-cycle events to publish, written in the same transaction as the events
-- themselves; the payload carries no personal data. event_id ("<request_id>-<seq>") is the
-- de-duplication id (JetStream's Nats-Msg-Id). published_at is set after the broker's ack.
CREATE TABLE outbox (
    id BIGSERIAL PRIMARY KEY,
    event_id TEXT NOT NULL UNIQUE,
    request_id BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    published_at BIGINT
);
CREATE INDEX outbox_unpublished ON outbox(id) WHERE published_at IS NULL;
