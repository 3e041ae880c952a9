-- The workload certificate API (issue 8): join tokens for a service's first certificate, every
-- certificate the identity service signed, and revoked certificates. Serials are
-- `Certificate.SerialNumber.hex` (lower-case hex, no separators), the spelling `cert inspect`,
-- `cert revoke`, the CRL and the gateways' revocation sets share.

-- One-time join tokens: 256-bit random values of which only a keyed BLAKE2b-256 is stored.
-- `used_at` is set by the single UPDATE that accepts a token, so two requests racing with the
-- same token cannot both succeed.
CREATE TABLE identity_join_tokens (
    token_hash  bytea       PRIMARY KEY,
    service_id  uuid        NOT NULL REFERENCES identity_service_accounts (id) ON DELETE CASCADE,
    created_by  text        NOT NULL DEFAULT '',
    created_at  timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    used_at     timestamptz,
    CHECK (expires_at > created_at)
);
CREATE INDEX identity_join_tokens_service ON identity_join_tokens (service_id);

-- Certificates signed by the workload API. `request_id` is the gateway assertion's jti for
-- renewals, unique so that one assertion can sign at most one certificate.
CREATE TABLE identity_issued_certificates (
    serial      text        PRIMARY KEY CHECK (serial ~ '^[0-9a-f]+$'),
    service_id  uuid        REFERENCES identity_service_accounts (id) ON DELETE SET NULL,
    spiffe_id   text        NOT NULL,
    not_before  timestamptz NOT NULL,
    not_after   timestamptz NOT NULL,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    method      text        NOT NULL CHECK (method IN ('join_token', 'renewal')),
    request_id  text        UNIQUE
);
CREATE INDEX identity_issued_certificates_service ON identity_issued_certificates (service_id, issued_at);

-- Revoked certificates, listed in the CRL and refused by every gateway until they expire.
-- Revoking publishes a NOTIFY on portcullis_identity (kind "certificate") in the same transaction.
CREATE TABLE identity_revoked_certificates (
    serial      text        PRIMARY KEY CHECK (serial ~ '^[0-9a-f]+$'),
    reason      text        NOT NULL,
    revoked_at  timestamptz NOT NULL DEFAULT now(),
    revoked_by  text        NOT NULL,
    -- The certificate's notAfter: past it, the certificate is refused anyway and the entry can leave the CRL.
    expires_at  timestamptz NOT NULL
);

-- cRLNumber (RFC 5280 §5.2.3): grows with every CRL the identity service signs, across replicas.
CREATE SEQUENCE identity_crl_number;
