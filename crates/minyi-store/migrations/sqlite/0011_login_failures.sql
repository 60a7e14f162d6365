-- Failed sign-ins per username, shared by every node: after too many failures within a window
-- the username is locked until locked_until (epoch ms). A successful sign-in deletes the row.
CREATE TABLE login_failures (
    username TEXT PRIMARY KEY,
    failures INTEGER NOT NULL,
    window_started_at INTEGER NOT NULL,
    locked_until INTEGER
);
