-- minyi schema, SQLite flavour. Times are UTC milliseconds since the epoch; flags are 0/1.
CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);

CREATE TABLE divisions (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    level TEXT NOT NULL,
    kind TEXT NOT NULL,
    parent_id INTEGER REFERENCES divisions(id)
);
CREATE INDEX divisions_parent ON divisions(parent_id);

CREATE TABLE units (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    division_id INTEGER NOT NULL REFERENCES divisions(id)
);

CREATE TABLE users (
    id INTEGER PRIMARY KEY,
    username TEXT NOT NULL UNIQUE,
    display_name TEXT NOT NULL,
    role TEXT NOT NULL,
    unit_id INTEGER REFERENCES units(id),
    password_hash TEXT NOT NULL,
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);

CREATE TABLE matters (
    id INTEGER PRIMARY KEY,
    code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    parent_id INTEGER REFERENCES matters(id),
    level INTEGER NOT NULL,
    urgency TEXT,
    response_span TEXT,
    handling_span TEXT,
    consultation INTEGER
);

CREATE TABLE responsibility_rules (
    id INTEGER PRIMARY KEY,
    matter_id INTEGER NOT NULL REFERENCES matters(id),
    division_id INTEGER NOT NULL REFERENCES divisions(id),
    lead_unit_id INTEGER NOT NULL REFERENCES units(id),
    co_unit_ids TEXT NOT NULL DEFAULT '',
    legal_basis TEXT NOT NULL DEFAULT '',
    response_span TEXT,
    handling_span TEXT
);
CREATE INDEX rules_pair ON responsibility_rules(matter_id, division_id);

CREATE TABLE calendar_days (day TEXT PRIMARY KEY, kind TEXT NOT NULL, name TEXT NOT NULL);

CREATE TABLE requests (
    id INTEGER PRIMARY KEY,
    tracking_code TEXT NOT NULL UNIQUE,
    channel TEXT NOT NULL,
    requester_kind TEXT NOT NULL,
    state TEXT NOT NULL,
    title TEXT NOT NULL,
    division_id INTEGER,
    matter_id INTEGER,
    category_source TEXT,
    urgency TEXT,
    lead_unit_id INTEGER,
    parent_id INTEGER,
    received_at INTEGER NOT NULL,
    response_due_at INTEGER,
    handling_due_at INTEGER,
    next_check_at INTEGER,
    updated_at INTEGER NOT NULL,
    version INTEGER NOT NULL,
    snapshot TEXT NOT NULL
);
CREATE INDEX requests_state ON requests(state);
CREATE INDEX requests_lead_state ON requests(lead_unit_id, state);
CREATE INDEX requests_received ON requests(received_at);
CREATE INDEX requests_handling_due ON requests(handling_due_at);
CREATE INDEX requests_next_check ON requests(next_check_at);
CREATE INDEX requests_matter ON requests(matter_id);
CREATE INDEX requests_division ON requests(division_id);

-- Units involved in a request (lead and co-units), for unit queues.
CREATE TABLE request_units (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    unit_id INTEGER NOT NULL,
    is_lead INTEGER NOT NULL,
    PRIMARY KEY (request_id, unit_id)
);
CREATE INDEX request_units_unit ON request_units(unit_id);

-- Personal data of the requester, apart from the request (个人信息分离存储).
CREATE TABLE requesters (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    name TEXT,
    phone TEXT,
    phone_last4 TEXT,
    address TEXT NOT NULL DEFAULT '',
    enterprise_name TEXT
);

-- The append-only history.
CREATE TABLE events (
    request_id INTEGER NOT NULL REFERENCES requests(id),
    seq INTEGER NOT NULL,
    at INTEGER NOT NULL,
    actor_user_id INTEGER,
    actor_role TEXT NOT NULL,
    actor_unit_id INTEGER,
    kind TEXT NOT NULL,
    payload TEXT NOT NULL,
    PRIMARY KEY (request_id, seq)
);
CREATE INDEX events_at ON events(at);
CREATE TRIGGER events_no_update BEFORE UPDATE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;
CREATE TRIGGER events_no_delete BEFORE DELETE ON events
BEGIN SELECT RAISE(ABORT, 'events are append-only'); END;

CREATE TABLE idempotency_keys (
    key TEXT PRIMARY KEY,
    request_id INTEGER NOT NULL REFERENCES requests(id),
    fingerprint TEXT NOT NULL,
    created_at INTEGER NOT NULL
);
