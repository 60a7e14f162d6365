-- The enterprise service programme (组工助企行): enterprises identified by their unified social
-- credit code, service teams of staff members serving one district or street, the assignment of
-- each enterprise to one team (包联; `manual` marks a person's override, kept by rebalancing),
-- visits (走访) with the members present and the problems raised, each problem linked to the
-- enterprise request it became. Times are epoch milliseconds; a visit date is its UTC midnight.
CREATE TABLE enterprises (
    id INTEGER PRIMARY KEY,
    credit_code TEXT NOT NULL UNIQUE,
    name TEXT NOT NULL,
    industry TEXT NOT NULL,
    size TEXT NOT NULL CHECK (size IN ('large', 'medium', 'small', 'micro')),
    division_id INTEGER NOT NULL REFERENCES divisions(id),
    contact_name TEXT,
    contact_phone TEXT,
    contact_position TEXT NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL
);
CREATE INDEX enterprises_division ON enterprises(division_id);
CREATE TABLE service_teams (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    scope_division_id INTEGER NOT NULL REFERENCES divisions(id),
    created_at INTEGER NOT NULL
);
CREATE INDEX service_teams_scope ON service_teams(scope_division_id);
CREATE TABLE service_team_members (
    team_id INTEGER NOT NULL REFERENCES service_teams(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (team_id, user_id)
);
CREATE INDEX service_team_members_user ON service_team_members(user_id);
CREATE TABLE enterprise_assignments (
    enterprise_id INTEGER PRIMARY KEY REFERENCES enterprises(id),
    team_id INTEGER NOT NULL REFERENCES service_teams(id),
    manual INTEGER NOT NULL DEFAULT 0,
    assigned_at INTEGER NOT NULL
);
CREATE INDEX enterprise_assignments_team ON enterprise_assignments(team_id);
CREATE TABLE visits (
    id INTEGER PRIMARY KEY,
    enterprise_id INTEGER NOT NULL REFERENCES enterprises(id),
    team_id INTEGER NOT NULL REFERENCES service_teams(id),
    visited_on INTEGER NOT NULL,
    notes TEXT NOT NULL DEFAULT '',
    recorded_by INTEGER REFERENCES users(id),
    recorded_at INTEGER NOT NULL
);
CREATE INDEX visits_enterprise ON visits(enterprise_id, visited_on);
CREATE INDEX visits_team ON visits(team_id, visited_on);
CREATE TABLE visit_members (
    visit_id INTEGER NOT NULL REFERENCES visits(id),
    user_id INTEGER NOT NULL REFERENCES users(id),
    PRIMARY KEY (visit_id, user_id)
);
CREATE TABLE visit_problems (
    visit_id INTEGER NOT NULL REFERENCES visits(id),
    seq INTEGER NOT NULL,
    text TEXT NOT NULL,
    request_id INTEGER REFERENCES requests(id),
    PRIMARY KEY (visit_id, seq)
);
CREATE INDEX visit_problems_request ON visit_problems(request_id);
