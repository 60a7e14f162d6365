-- KPI aggregates (考核指标): additive counters per local day, lead unit, leaf matter, division and
-- channel, maintained in the same transaction as the events that change them (see
-- minyi-domain/src/kpi.rs for what each counter counts). Ids are 0 when absent (not yet
-- dispatched, classified or located), hence no foreign keys. Dashboards sum these rows over a
-- period and roll divisions and matters up to their ancestors at query time.
CREATE TABLE kpi_daily (
    day BIGINT NOT NULL,
    unit_id BIGINT NOT NULL,
    matter_id BIGINT NOT NULL,
    division_id BIGINT NOT NULL,
    channel TEXT NOT NULL,
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
    PRIMARY KEY (day, unit_id, matter_id, division_id, channel)
);
CREATE INDEX kpi_daily_unit ON kpi_daily(unit_id, day);
