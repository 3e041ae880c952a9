-- private_key_jwt (RFC 7523): a client assertion is accepted once. Each accepted `jti` is kept,
-- per client, until the assertion would have expired anyway.
CREATE TABLE oidc_client_assertions (
    client_id  text        NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    jti        text        NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (client_id, jti)
);
CREATE INDEX oidc_client_assertions_expiry ON oidc_client_assertions (expires_at);
