-- Tamper-evident history (issue 9). Every event carries `hash`, the SHA-256 (hex) of its stored
-- columns and the previous event's hash of the same request (src/audit.rs has the encoding);
-- `history_heads` keeps each request's last seq and hash, so a deleted tail is caught too.
-- Chains are per request: writers on different requests, on one node or several, never wait
-- for each other.
ALTER TABLE events ADD COLUMN hash TEXT;

CREATE TABLE history_heads (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id),
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);

-- Still append-only, with one exception: sealing an event written before this migration, that is
-- setting its hash once and changing nothing else.
CREATE OR REPLACE FUNCTION minyi_events_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE' AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
       AND (NEW.request_id, NEW.seq, NEW.at, NEW.actor_user_id, NEW.actor_role,
            NEW.actor_unit_id, NEW.kind, NEW.payload)
           IS NOT DISTINCT FROM
           (OLD.request_id, OLD.seq, OLD.at, OLD.actor_user_id, OLD.actor_role,
            OLD.actor_unit_id, OLD.kind, OLD.payload) THEN
        RETURN NEW;
    END IF;
    RAISE EXCEPTION 'events are append-only';
END;
$$ LANGUAGE plpgsql;

-- A database that already holds history is sealed by the store when it next opens.
INSERT INTO settings (key, value) SELECT 'history_unsealed', '1' WHERE EXISTS (SELECT 1 FROM events);
