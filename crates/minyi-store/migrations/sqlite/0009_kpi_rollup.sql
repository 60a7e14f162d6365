-- KPI roll-ups (考核指标汇总): the counters of kpi_daily summed along one dimension at a time,
-- per local day and per calendar month, so that the dashboards' queries (a ranking of units over
-- a month, the city's trend by day, the mix by category or district) read a few hundred rows
-- instead of every (day, unit, matter, division, channel) combination of the period.
--   dim    'total' (item 'all'), 'unit', 'matter' (leaf id), 'division' (leaf id), 'channel'
--   grain  'day' (period = local day number) or 'month' (period = day number of its first day)
-- Maintained in the same transactions as kpi_daily (minyi-store/src/kpi.rs); filled here from
-- the existing kpi_daily rows.
CREATE TABLE kpi_rollup (
    dim TEXT NOT NULL,
    grain TEXT NOT NULL,
    period INTEGER NOT NULL,
    item TEXT NOT NULL,
    received INTEGER NOT NULL DEFAULT 0,
    answered_at_intake INTEGER NOT NULL DEFAULT 0,
    dispatched INTEGER NOT NULL DEFAULT 0,
    first_dispatched INTEGER NOT NULL DEFAULT 0,
    auto_dispatched INTEGER NOT NULL DEFAULT 0,
    signed INTEGER NOT NULL DEFAULT 0,
    signed_on_time INTEGER NOT NULL DEFAULT 0,
    returned INTEGER NOT NULL DEFAULT 0,
    first_returned INTEGER NOT NULL DEFAULT 0,
    completed INTEGER NOT NULL DEFAULT 0,
    completed_on_time INTEGER NOT NULL DEFAULT 0,
    handling_ms INTEGER NOT NULL DEFAULT 0,
    handling_work_s INTEGER NOT NULL DEFAULT 0,
    rated INTEGER NOT NULL DEFAULT 0,
    satisfied INTEGER NOT NULL DEFAULT 0,
    solved INTEGER NOT NULL DEFAULT 0,
    reopened INTEGER NOT NULL DEFAULT 0,
    closed INTEGER NOT NULL DEFAULT 0,
    escalated INTEGER NOT NULL DEFAULT 0,
    urged INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (dim, grain, period, item)
);
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT 'total', 'day', day, 'all', SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_daily GROUP BY day;
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT 'unit', 'day', day, CAST(unit_id AS TEXT), SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_daily GROUP BY day, CAST(unit_id AS TEXT);
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT 'matter', 'day', day, CAST(matter_id AS TEXT), SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_daily GROUP BY day, CAST(matter_id AS TEXT);
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT 'division', 'day', day, CAST(division_id AS TEXT), SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_daily GROUP BY day, CAST(division_id AS TEXT);
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT 'channel', 'day', day, channel, SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_daily GROUP BY day, channel;
INSERT INTO kpi_rollup (dim, grain, period, item, received, answered_at_intake, dispatched, first_dispatched, auto_dispatched, signed, signed_on_time, returned, first_returned, completed, completed_on_time, handling_ms, handling_work_s, rated, satisfied, solved, reopened, closed, escalated, urged)
    SELECT dim, 'month', CAST(julianday(date(period * 86400, 'unixepoch', 'start of month')) - 2440587.5 AS INTEGER), item, SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_rollup WHERE grain = 'day' GROUP BY dim, CAST(julianday(date(period * 86400, 'unixepoch', 'start of month')) - 2440587.5 AS INTEGER), item;
