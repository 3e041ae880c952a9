-- Each run of `audit verify` (or the console's "Verify now"): what it found and, per writer, how
-- far signed checkpoints vouch for the chain, so searches can mark records by their chain.
-- `authenticator` is a MAC under a subkey of the master key over `result` (NULL when the run had
-- no master key): a result a database writer stores or alters is not used.
CREATE TABLE audit_verifications (
    id            bigserial   PRIMARY KEY,
    finished_at   timestamptz NOT NULL DEFAULT now(),
    result        text        NOT NULL,
    authenticator text
);
