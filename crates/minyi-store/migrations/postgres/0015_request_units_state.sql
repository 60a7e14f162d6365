-- A unit's queue (单位待办: its requests in some states) as one index range. SQLite plans with
-- average rows per value, so filtering a busy unit's requests (a district bureau's 40,000 at
-- 1,000,000 requests) by state probed each of them: 200-450 ms per search in the unit's scope.
-- request_units now carries its request's state, kept in the transaction that changes it.
ALTER TABLE request_units ADD COLUMN state TEXT NOT NULL DEFAULT '';
UPDATE request_units SET state = (SELECT r.state FROM requests r WHERE r.id = request_units.request_id);
DROP INDEX request_units_unit;
CREATE INDEX request_units_unit_state ON request_units(unit_id, state, request_id);
