-- Every public key that signed an audit checkpoint, kept as long as the trail (never deleted by
-- key rotation), so `audit verify` can check old checkpoints without a JWKS fetched at the time.
-- `authenticator` is a MAC under a subkey of the master key over the key id and public key: a
-- row inserted here by a database writer without the master key is not trusted.
CREATE TABLE audit_signing_keys (
    key_id        text        PRIMARY KEY,
    public_key    text        NOT NULL,
    first_used_at timestamptz NOT NULL DEFAULT now(),
    authenticator text        NOT NULL
);
