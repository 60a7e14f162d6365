-- Supervision cards (挂牌督办): a yellow or red card issued to a unit or to one request by a
-- supervisor, with its reason, until it is lifted. Kept, never deleted: the history of cards is
-- part of a unit's record.
CREATE TABLE cards (
    id INTEGER PRIMARY KEY,
    target_kind TEXT NOT NULL CHECK (target_kind IN ('unit', 'request')),
    target_id INTEGER NOT NULL,
    colour TEXT NOT NULL CHECK (colour IN ('yellow', 'red')),
    reason TEXT NOT NULL,
    issued_by INTEGER NOT NULL REFERENCES users(id),
    issued_at INTEGER NOT NULL,
    lifted_by INTEGER REFERENCES users(id),
    lifted_at INTEGER,
    lift_note TEXT
);
CREATE INDEX cards_target ON cards(target_kind, target_id);
CREATE INDEX cards_open ON cards(lifted_at);
