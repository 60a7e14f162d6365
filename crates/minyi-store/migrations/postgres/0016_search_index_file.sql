-- Nothing changes on PostgreSQL: its search index stays in the writing transactions. The
-- migration keeps the schema versions of the two backends equal (backups carry the version);
-- on SQLite it moves the index to a file of its own.
SELECT 1;
