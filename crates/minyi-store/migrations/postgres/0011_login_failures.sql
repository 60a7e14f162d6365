-- Failed sign-ins per username, shared by every node: after too many failures within a window
-- the username is locked until locked_until (epoch ms). A successful sign-in deletes the row.
CREATE TABLE login_failures (
    username TEXT PRIMARY KEY,
    failures BIGINT NOT NULL,
    window_started_at BIGINT NOT NULL,
    locked_until BIGINT
);
