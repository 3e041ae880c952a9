-- Audit writers record their own start and clean stop (kind 'writer'), so a chain that ends
-- without a stop record shows a writer that crashed and may have lost its last events.
ALTER TABLE audit_events DROP CONSTRAINT audit_events_kind_check;
ALTER TABLE audit_events ADD CONSTRAINT audit_events_kind_check CHECK (kind IN ('access', 'admin', 'authentication', 'writer'));
