-- Tamper-evident history (issue 9). Every event carries `hash`, the SHA-256 (hex) of its stored
-- columns and the previous event's hash of the same request (src/audit.rs has the encoding);
-- `history_heads` keeps each request's last seq and hash, so a deleted tail is caught too.
-- Chains are per request: writers on different requests, on one node or several, never wait
-- for each other.
ALTER TABLE events ADD COLUMN hash TEXT;

CREATE TABLE history_heads (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);

-- Still append-only, with one exception: sealing an event written before this migration, that is
-- setting its hash once and changing nothing else.
DROP TRIGGER events_no_update;
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
WHEN NOT (
    OLD.hash IS NULL AND NEW.hash IS NOT NULL
    AND NEW.request_id IS OLD.request_id AND NEW.seq IS OLD.seq AND NEW.at IS OLD.at
    AND NEW.actor_user_id IS OLD.actor_user_id AND NEW.actor_role IS OLD.actor_role
    AND NEW.actor_unit_id IS OLD.actor_unit_id AND NEW.kind IS OLD.kind
    AND NEW.payload IS OLD.payload
)
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

-- A database that already holds history is sealed by the store when it next opens.
INSERT INTO settings (key, value) SELECT 'history_unsealed', '1' WHERE EXISTS (SELECT 1 FROM events);
