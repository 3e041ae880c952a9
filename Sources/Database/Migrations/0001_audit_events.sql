-- The audit trail (Audit module). Partitioned by day on occurred_at; partitions are created
-- ahead and dropped for retention by the audit writer, never pruned with DELETE.
CREATE TABLE audit_events (
    id              uuid        NOT NULL,
    occurred_at     timestamptz NOT NULL,
    kind            text        NOT NULL CHECK (kind IN ('access', 'admin', 'authentication')),
    request_id      text,
    principal       text,
    auth_method     text,
    action          text        NOT NULL,
    route           text,
    target          text,
    client_address  text,
    outcome         text        NOT NULL,
    policies        text[]      NOT NULL DEFAULT '{}',
    policy_version  text,
    upstream_status integer,
    duration_us     bigint,
    details         text,
    writer_id       uuid        NOT NULL,
    seq             bigint      NOT NULL,
    prev_hash       bytea       NOT NULL,
    hash            bytea       NOT NULL,
    PRIMARY KEY (occurred_at, id)
) PARTITION BY RANGE (occurred_at);

-- The common questions: one principal / one route / one outcome over a time range,
-- one request id, and a writer's chain in order (for `audit verify`).
CREATE INDEX audit_events_principal_time ON audit_events (principal, occurred_at);
CREATE INDEX audit_events_route_time ON audit_events (route, occurred_at);
CREATE INDEX audit_events_outcome_time ON audit_events (outcome, occurred_at);
CREATE INDEX audit_events_request_id ON audit_events (request_id);
CREATE INDEX audit_events_chain ON audit_events (writer_id, seq);

-- Signed chain heads: each proves that a writer's chain had reached `seq` with `head_hash`.
CREATE TABLE audit_checkpoints (
    writer_id   uuid        NOT NULL,
    seq         bigint      NOT NULL,
    head_hash   bytea       NOT NULL,
    signed_at   timestamptz NOT NULL,
    key_id      text        NOT NULL,
    signature   bytea       NOT NULL,
    PRIMARY KEY (writer_id, seq)
);
