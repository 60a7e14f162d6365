-- Full-text search over requests (全文检索), kept by the store in the transactions that write
-- what it indexes (see src/search.rs). `body`: title, text, the problem's address and every
-- reply, each line ended by a line feed; `personal`: the requester's own address (personal
-- data, searched only for roles that see it). The trigram tokenizer matches substrings of three
-- or more characters without a Chinese segmenter; two-character terms are expanded through the
-- vocabulary table into the trigrams that begin with them.
CREATE VIRTUAL TABLE request_search USING fts5(body, personal, tokenize = 'trigram');
CREATE VIRTUAL TABLE request_search_terms USING fts5vocab(request_search, 'row');

-- Backfill (the same statement as search::rebuild).
INSERT INTO request_search (rowid, body, personal)
SELECT r.id,
  r.title || char(10) || COALESCE(json_extract(r.snapshot, '$.intake.text'), '') || char(10)
  || COALESCE(json_extract(r.snapshot, '$.intake.location.address'), '') || char(10)
  || COALESCE((SELECT group_concat(line, '') FROM (SELECT COALESCE(json_extract(e.payload,
       '$.text'), json_extract(e.payload, '$.answer'), '') || char(10) AS line FROM events e
       WHERE e.request_id = r.id AND e.kind IN ('replied', 'answered_at_intake')
       ORDER BY e.seq)), ''),
  COALESCE((SELECT q.address || char(10) FROM requesters q
       WHERE q.request_id = r.id AND q.address <> ''), '')
FROM requests r;
