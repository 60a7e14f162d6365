-- KPI aggregates (考核指标): additive counters per local day, lead unit, leaf matter, division and
-- channel, maintained in the same transaction as the events that change them (see
-- minyi-domain/src/kpi.rs for what each counter counts). Ids are 0 when absent (not yet
-- dispatched, classified or located), hence no foreign keys. Dashboards sum these rows over a
-- period and roll divisions and matters up to their ancestors at query time.
CREATE TABLE kpi_daily (
    day INTEGER NOT NULL,
    unit_id INTEGER NOT NULL,
    matter_id INTEGER NOT NULL,
    division_id INTEGER NOT NULL,
    channel TEXT NOT NULL,
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
    PRIMARY KEY (day, unit_id, matter_id, division_id, channel)
);
CREATE INDEX kpi_daily_unit ON kpi_daily(unit_id, day);
