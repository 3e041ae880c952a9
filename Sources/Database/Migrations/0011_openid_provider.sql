-- Portcullis as the OpenID provider of internal tools (issue 22).
--
-- A client is an application that signs people in with Portcullis: its redirect URIs (matched
-- exactly), what it may ask for, its labels (tags of `Client::"<id>"` in Cedar), and for a
-- confidential client the keyed hash of its secret (shown once, never stored) or its JWKS for
-- private_key_jwt.
CREATE TABLE oidc_clients (
    id                        text        PRIMARY KEY,
    name                      text        NOT NULL,
    confidential              boolean     NOT NULL,
    secret_hash               bytea,
    jwks                      text,
    redirect_uris             text[]      NOT NULL,
    post_logout_redirect_uris text[]      NOT NULL DEFAULT '{}',
    scopes                    text[]      NOT NULL,
    claims                    text[]      NOT NULL,
    labels                    jsonb       NOT NULL DEFAULT '{}',
    id_token_algorithm        text        NOT NULL DEFAULT 'RS256',
    access_token_seconds      integer     NOT NULL,
    refresh_token_seconds     integer     NOT NULL,
    created_at                timestamptz NOT NULL DEFAULT now(),
    secret_rotated_at         timestamptz
);

-- What a person granted a client in one identity session: the scopes, when and how they
-- authenticated, and the current refresh token (rotated at each use; a used one presented again
-- revokes the grant). Ending the identity session ends its grants.
CREATE TABLE oidc_grants (
    id                 uuid        PRIMARY KEY,
    client_id          text        NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    session_id         uuid        NOT NULL REFERENCES identity_sessions (id) ON DELETE CASCADE,
    user_id            uuid        NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    scopes             text[]      NOT NULL,
    auth_time          timestamptz NOT NULL,
    amr                text[]      NOT NULL,
    refresh_hash       bytea,
    previous_hash      bytea,
    refresh_expires_at timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    revoked_at         timestamptz,
    revoke_reason      text
);
CREATE INDEX oidc_grants_session ON oidc_grants (session_id);
CREATE UNIQUE INDEX oidc_grants_refresh ON oidc_grants (refresh_hash);
CREATE INDEX oidc_grants_previous ON oidc_grants (previous_hash);

-- Authorization codes: only a keyed hash stored, single use (a second redemption revokes the
-- grant the first one made, RFC 6749 §4.1.2), bound to the client, the redirect URI, the PKCE
-- challenge and the nonce, valid for a minute.
CREATE TABLE oidc_codes (
    code_hash      bytea       PRIMARY KEY,
    client_id      text        NOT NULL REFERENCES oidc_clients (id) ON DELETE CASCADE,
    session_id     uuid        NOT NULL REFERENCES identity_sessions (id) ON DELETE CASCADE,
    redirect_uri   text        NOT NULL,
    code_challenge text,
    nonce          text,
    scopes         text[]      NOT NULL,
    auth_time      timestamptz NOT NULL,
    amr            text[]      NOT NULL,
    expires_at     timestamptz NOT NULL,
    redeemed_at    timestamptz,
    replayed_at    timestamptz,
    grant_id       uuid
);

-- Signing keys belong to a ring: `tokens` (Ed25519, PASETO and assertions) and the OpenID
-- provider's `oidc-rs256` (RSA, for clients that verify RS256).
ALTER TABLE identity_signing_keys ADD COLUMN ring text NOT NULL DEFAULT 'tokens';
