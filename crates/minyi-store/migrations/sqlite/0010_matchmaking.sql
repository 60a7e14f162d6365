-- Matchmaking (我帮企业找市场 / 找资金): needs posted for enterprises, registered resources
-- (programmes, funds, buyers, talent services …) open to some industries and one division (or the
-- whole city when scope_division_id is NULL), and matches of a need with a resource followed from
-- proposed through contacted to agreed or declined. `industries` and `serves` are lists joined by
-- '|' (empty: every industry, every need kind). A match's score is the similarity × 1000 (0 for
-- one proposed by hand). Every step of a match, with its note, is kept in match_steps. Times are
-- epoch milliseconds.
CREATE TABLE enterprise_needs (
    id INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    kind TEXT NOT NULL CHECK (kind IN ('market', 'funding', 'talent', 'land', 'technology', 'policy', 'other')),
    title TEXT NOT NULL,
    detail TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'met', 'withdrawn')),
    created_by INTEGER REFERENCES users(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX enterprise_needs_enterprise ON enterprise_needs(enterprise_id);
CREATE TABLE match_resources (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL CHECK (kind IN ('programme', 'fund', 'buyer', 'talent_service', 'space', 'technology_service', 'other')),
    name TEXT NOT NULL,
    provider TEXT NOT NULL DEFAULT '',
    description TEXT NOT NULL DEFAULT '',
    industries TEXT NOT NULL DEFAULT '',
    scope_division_id INTEGER REFERENCES divisions(id),
    serves TEXT NOT NULL DEFAULT '',
    active INTEGER NOT NULL DEFAULT 1,
    created_at INTEGER NOT NULL
);
CREATE TABLE need_matches (
    id INTEGER PRIMARY KEY,
    need_id INTEGER NOT NULL REFERENCES enterprise_needs(id),
    resource_id INTEGER NOT NULL REFERENCES match_resources(id),
    score INTEGER NOT NULL DEFAULT 0,
    terms TEXT NOT NULL DEFAULT '',
    status TEXT NOT NULL DEFAULT 'proposed' CHECK (status IN ('proposed', 'contacted', 'agreed', 'declined')),
    proposed_at INTEGER NOT NULL,
    contacted_at INTEGER,
    decided_at INTEGER,
    UNIQUE (need_id, resource_id)
);
CREATE INDEX need_matches_resource ON need_matches(resource_id);
CREATE TABLE match_steps (
    match_id INTEGER NOT NULL REFERENCES need_matches(id),
    seq INTEGER NOT NULL,
    status TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '',
    at INTEGER NOT NULL,
    user_id INTEGER REFERENCES users(id),
    PRIMARY KEY (match_id, seq)
);
