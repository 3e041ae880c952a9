-- Federated sessions (issue 21): each identity session opened with a provider is re-validated
-- with it at an interval (its refresh token, sealed under the master key), so an account disabled
-- at the provider loses its sessions within minutes. A replica claims due rows by moving
-- `next_check_at` forward (FOR UPDATE SKIP LOCKED), so replicas never check one session twice.
CREATE TABLE identity_federated_sessions (
    session_id     uuid        PRIMARY KEY REFERENCES identity_sessions (id) ON DELETE CASCADE,
    provider       text        NOT NULL,
    issuer         text        NOT NULL,
    subject        text        NOT NULL,
    refresh_sealed text,
    checked_at     timestamptz NOT NULL DEFAULT now(),
    next_check_at  timestamptz NOT NULL
);
CREATE INDEX identity_federated_sessions_due ON identity_federated_sessions (next_check_at);
CREATE INDEX identity_federated_sessions_subject ON identity_federated_sessions (issuer, subject);
