-- Full-text search over requests (全文检索), kept by the store in the transactions that write
-- what it indexes (see src/search.rs). `body`: title, text, the problem's address and every
-- reply, each line ended by a line feed; `personal`: the requester's own address (personal
-- data, searched only for roles that see it). pg_trgm's GIN indexes serve ILIKE '%term%' for
-- terms of three or more characters (CJK characters count as word characters under C.UTF-8 and
-- other UTF-8 locales).
CREATE EXTENSION IF NOT EXISTS pg_trgm;

CREATE TABLE request_search (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id),
    body TEXT NOT NULL,
    personal TEXT NOT NULL
);

-- Backfill (the same statement as search::rebuild).
INSERT INTO request_search (request_id, body, personal)
SELECT r.id,
  r.title || chr(10) || COALESCE(r.snapshot::jsonb #>> '{intake,text}', '') || chr(10)
  || COALESCE(r.snapshot::jsonb #>> '{intake,location,address}', '') || chr(10)
  || COALESCE((SELECT string_agg(COALESCE(e.payload::jsonb ->> 'text',
       e.payload::jsonb ->> 'answer', '') || chr(10), '' ORDER BY e.seq) FROM events e
       WHERE e.request_id = r.id AND e.kind IN ('replied', 'answered_at_intake')), ''),
  COALESCE((SELECT q.address || chr(10) FROM requesters q
       WHERE q.request_id = r.id AND q.address <> ''), '')
FROM requests r;

CREATE INDEX request_search_body ON request_search USING gin (body gin_trgm_ops);
CREATE INDEX request_search_personal ON request_search USING gin (personal gin_trgm_ops);
