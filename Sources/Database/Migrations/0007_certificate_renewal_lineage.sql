-- Renewal lineage of workload certificates (issue 18): which certificate a renewal was presented
-- with, so that revoking a certificate also revokes everything renewed from it, and a renewal
-- presented with a revoked certificate (or one renewed from a revoked one) is refused. `sha256`
-- is the hex SHA-256 of the DER certificate: a renewal names the certificate it was presented with
-- by that digest (the gateway's assertion carries it as `cnf.x5t#S256`). Certificates recorded
-- before this migration have no digest and cannot renew; their services get one with a join token.
ALTER TABLE identity_issued_certificates ADD COLUMN sha256 text UNIQUE CHECK (sha256 ~ '^[0-9a-f]{64}$');
ALTER TABLE identity_issued_certificates ADD COLUMN renewed_from text REFERENCES identity_issued_certificates (serial);
ALTER TABLE identity_issued_certificates ADD CONSTRAINT identity_issued_certificates_renewal_lineage
    CHECK (((method = 'renewal') = (renewed_from IS NOT NULL)) OR (renewed_from IS NULL AND sha256 IS NULL));
CREATE INDEX identity_issued_certificates_renewed_from ON identity_issued_certificates (renewed_from);
