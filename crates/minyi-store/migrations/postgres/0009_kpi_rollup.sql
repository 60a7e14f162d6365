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
    period BIGINT NOT NULL,
    item TEXT NOT NULL,
    received BIGINT NOT NULL DEFAULT 0,
    answered_at_intake BIGINT NOT NULL DEFAULT 0,
    dispatched BIGINT NOT NULL DEFAULT 0,
    first_dispatched BIGINT NOT NULL DEFAULT 0,
    auto_dispatched BIGINT NOT NULL DEFAULT 0,
    signed BIGINT NOT NULL DEFAULT 0,
    signed_on_time BIGINT NOT NULL DEFAULT 0,
    returned BIGINT NOT NULL DEFAULT 0,
    first_returned BIGINT NOT NULL DEFAULT 0,
    completed BIGINT NOT NULL DEFAULT 0,
    completed_on_time BIGINT NOT NULL DEFAULT 0,
    handling_ms BIGINT NOT NULL DEFAULT 0,
    handling_work_s BIGINT NOT NULL DEFAULT 0,
    rated BIGINT NOT NULL DEFAULT 0,
    satisfied BIGINT NOT NULL DEFAULT 0,
    solved BIGINT NOT NULL DEFAULT 0,
    reopened BIGINT NOT NULL DEFAULT 0,
    closed BIGINT NOT NULL DEFAULT 0,
    escalated BIGINT NOT NULL DEFAULT 0,
    urged BIGINT NOT NULL DEFAULT 0,
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
    SELECT dim, 'month', (CAST(date_trunc('month', DATE '1970-01-01' + CAST(period AS INTEGER)) AS DATE) - DATE '1970-01-01'), item, SUM(received), SUM(answered_at_intake), SUM(dispatched), SUM(first_dispatched), SUM(auto_dispatched), SUM(signed), SUM(signed_on_time), SUM(returned), SUM(first_returned), SUM(completed), SUM(completed_on_time), SUM(handling_ms), SUM(handling_work_s), SUM(rated), SUM(satisfied), SUM(solved), SUM(reopened), SUM(closed), SUM(escalated), SUM(urged)
    FROM kpi_rollup WHERE grain = 'day' GROUP BY dim, (CAST(date_trunc('month', DATE '1970-01-01' + CAST(period AS INTEGER)) AS DATE) - DATE '1970-01-01'), item;
