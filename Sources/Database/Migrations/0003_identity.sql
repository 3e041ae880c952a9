-- The identity service (Identity module): people, services, their roles and groups,
-- sessions, refresh tokens, throttling, signing keys and revocations.
-- Logins, role and group names are stored lower-case, so uniqueness is case-insensitive
-- without an extension; e-mail addresses keep their case and are unique on lower(email).

CREATE TABLE identity_users (
    id               uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    login            text        NOT NULL UNIQUE CHECK (login = lower(login) AND length(login) BETWEEN 1 AND 64),
    email            text        NOT NULL,
    display_name     text        NOT NULL DEFAULT '',
    status           text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled', 'locked')),
    password_hash    text,
    -- TOTP secret sealed under the master key (JSON {nonce, ciphertext}); NULL = not enrolled.
    totp_sealed      text,
    totp_confirmed   boolean     NOT NULL DEFAULT false,
    totp_last_step   bigint,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX identity_users_email ON identity_users (lower(email));

CREATE TABLE identity_recovery_codes (
    user_id   uuid NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    code_hash text NOT NULL,
    PRIMARY KEY (user_id, code_hash)
);

CREATE TABLE identity_roles (
    name        text        PRIMARY KEY CHECK (name = lower(name) AND name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- Role hierarchy edges: `role` is a member of `parent`,
-- as in Cedar (`Role::"dispatcher" in Role::"staff"`). Cycles are refused by the service.
CREATE TABLE identity_role_parents (
    role   text NOT NULL REFERENCES identity_roles (name) ON DELETE CASCADE,
    parent text NOT NULL REFERENCES identity_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (role, parent),
    CHECK (role <> parent)
);

CREATE TABLE identity_groups (
    name        text        PRIMARY KEY CHECK (name = lower(name) AND name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    description text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE identity_user_roles (
    user_id uuid NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    role    text NOT NULL REFERENCES identity_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, role)
);

CREATE TABLE identity_user_groups (
    user_id    uuid NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    group_name text NOT NULL REFERENCES identity_groups (name) ON DELETE CASCADE,
    PRIMARY KEY (user_id, group_name)
);

CREATE TABLE identity_service_accounts (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    name        text        NOT NULL UNIQUE CHECK (name = lower(name) AND name ~ '^[a-z0-9][a-z0-9._-]{0,63}$'),
    owner       text        NOT NULL DEFAULT '',
    spiffe_id   text        UNIQUE,
    status      text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'disabled')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE identity_service_roles (
    service_id uuid NOT NULL REFERENCES identity_service_accounts (id) ON DELETE CASCADE,
    role       text NOT NULL REFERENCES identity_roles (name) ON DELETE CASCADE,
    PRIMARY KEY (service_id, role)
);

-- Client secrets are 256-bit random values; only a keyed BLAKE2b-256 of each is stored.
-- Several may be active at once so a secret can be rotated without downtime.
CREATE TABLE identity_service_secrets (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    service_id  uuid        NOT NULL REFERENCES identity_service_accounts (id) ON DELETE CASCADE,
    secret_hash bytea       NOT NULL UNIQUE,
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz
);
CREATE INDEX identity_service_secrets_service ON identity_service_secrets (service_id);

CREATE TABLE identity_sessions (
    id             uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id        uuid        NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    auth_methods   text[]      NOT NULL,
    mfa_at         timestamptz,
    client_address text,
    user_agent     text        NOT NULL DEFAULT '',
    created_at     timestamptz NOT NULL DEFAULT now(),
    last_seen_at   timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    revoked_at     timestamptz,
    revoke_reason  text
);
CREATE INDEX identity_sessions_user ON identity_sessions (user_id);

-- Rotating refresh tokens: each use marks the token used and issues its successor in the
-- same session (the family). Presenting a used token revokes the whole session.
CREATE TABLE identity_refresh_tokens (
    token_hash  bytea       PRIMARY KEY,
    session_id  uuid        NOT NULL REFERENCES identity_sessions (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz
);
CREATE INDEX identity_refresh_tokens_session ON identity_refresh_tokens (session_id);

-- A pending second factor: the password was right, the TOTP code is still due.
CREATE TABLE identity_mfa_challenges (
    token_hash bytea       PRIMARY KEY,
    user_id    uuid        NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    client_address text,
    expires_at timestamptz NOT NULL,
    attempts   integer     NOT NULL DEFAULT 0
);

-- Every login attempt, keyed by the login as typed (lower-cased) so that unknown and known
-- logins are throttled alike, and by client address. `succeeded` is NULL while pending.
CREATE TABLE identity_login_attempts (
    id             bigserial   PRIMARY KEY,
    login          text        NOT NULL,
    client_address text        NOT NULL,
    attempted_at   timestamptz NOT NULL DEFAULT now(),
    succeeded      boolean
);
CREATE INDEX identity_login_attempts_login ON identity_login_attempts (login, attempted_at);
CREATE INDEX identity_login_attempts_address ON identity_login_attempts (client_address, attempted_at);

-- The token signing key ring (records sealed under the master key; see Tokens.KeyRing).
CREATE TABLE identity_signing_keys (
    id     text  PRIMARY KEY,
    record jsonb NOT NULL
);

-- Revocations the gateways must honour before the revoked thing would expire by itself.
-- kind: session (a session id), token (a jti), subject (a user login or service name).
CREATE TABLE identity_revocations (
    kind       text        NOT NULL CHECK (kind IN ('session', 'token', 'subject')),
    value      text        NOT NULL,
    revoked_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (kind, value)
);
