-- Checkpoints are stored as PASETO v4.public tokens (verifiable by any PASETO library with the
-- published keys) rather than bare signatures.
ALTER TABLE audit_checkpoints DROP COLUMN signature;
ALTER TABLE audit_checkpoints ADD COLUMN token text NOT NULL;
