-- What the intelligent engine suggested at intake (category candidates with confidence and the
-- words that weighed most, the located division, danger words, duplicate candidates), kept beside
-- the request for the dispatcher and for retraining. Written in the intake transaction.
CREATE TABLE engine_suggestions (
    request_id BIGINT PRIMARY KEY REFERENCES requests(id),
    created_at BIGINT NOT NULL,
    payload TEXT NOT NULL
);
