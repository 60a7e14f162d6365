-- The search index moves to a file of its own, `minyi-search.db` beside the database, kept by
-- an indexer that follows the history (src/search_index.rs), so that indexing is no longer part
-- of the transactions that write requests. The indexer builds the new file from the history the
-- first time the store opens.
DROP TABLE request_search_terms;
DROP TABLE request_search;
