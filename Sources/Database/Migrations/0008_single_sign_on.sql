-- Single sign-on and one-time passwords (issue 20).
--
-- A sign-on code hands an identity session from the sign-in host to one route host: the route
-- host redeems it once, within seconds, and sets its own host-only cookie for the same session.
-- Only a keyed BLAKE2b-256 of each code is stored; a code dies with its session.
CREATE TABLE identity_sign_on_codes (
    code_hash  bytea       PRIMARY KEY,
    session_id uuid        NOT NULL REFERENCES identity_sessions (id) ON DELETE CASCADE,
    host       text        NOT NULL CHECK (host = lower(host) AND length(host) BETWEEN 1 AND 253),
    expires_at timestamptz NOT NULL
);
CREATE INDEX identity_sign_on_codes_expires_at ON identity_sign_on_codes (expires_at);

-- A password an administrator set or generated works for one sign-in, which must choose a new one.
ALTER TABLE identity_users ADD COLUMN password_change_required boolean NOT NULL DEFAULT false;

-- A pending sign-in step is either a second factor or, after it, the forced password change;
-- the latter remembers how the person authenticated so the session opened after it says so.
ALTER TABLE identity_mfa_challenges ADD COLUMN purpose text NOT NULL DEFAULT 'second_factor'
    CHECK (purpose IN ('second_factor', 'password_change'));
ALTER TABLE identity_mfa_challenges ADD COLUMN auth_methods text[] NOT NULL DEFAULT '{}';
ALTER TABLE identity_mfa_challenges ADD COLUMN mfa_at timestamptz;
