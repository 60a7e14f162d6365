-- What the engine finds across requests rather than in one: duplicates (重复件) flagged at intake
-- for a dispatcher to merge or dismiss, hot-spot alerts (热点) on surges of similar requests in
-- one division, and the knowledge base (知识库) that operators answer consultations from.

-- One row per request that the engine found to repeat an open one.
CREATE TABLE duplicate_flags (
    request_id INTEGER PRIMARY KEY REFERENCES requests(id),
    parent_id INTEGER NOT NULL REFERENCES requests(id),
    similarity REAL NOT NULL,
    -- open, merged or dismissed
    status TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    decided_by INTEGER,
    decided_at INTEGER
);
CREATE INDEX duplicate_flags_status ON duplicate_flags(status, created_at);

-- A surge: count requests with one key in one division within the window, against a baseline.
-- Several nodes watch the same stream of requests and may fire the same alert: the unique key
-- keeps one.
CREATE TABLE hotspot_alerts (
    id INTEGER PRIMARY KEY,
    division_id INTEGER NOT NULL,
    topic TEXT NOT NULL,
    request_count INTEGER NOT NULL,
    baseline REAL NOT NULL,
    fired_at INTEGER NOT NULL,
    -- JSON array of request ids
    samples TEXT NOT NULL,
    -- open or acknowledged
    status TEXT NOT NULL,
    acknowledged_by INTEGER,
    acknowledged_at INTEGER,
    UNIQUE (division_id, topic, fired_at)
);
CREATE INDEX hotspot_alerts_status ON hotspot_alerts(status, fired_at);

-- Question-and-answer entries maintained by administrators.
CREATE TABLE knowledge_entries (
    id TEXT PRIMARY KEY,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    -- JSON array of tags
    tags TEXT NOT NULL,
    active INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    updated_by INTEGER
);
