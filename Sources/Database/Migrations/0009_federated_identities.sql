-- Federated identities (issue 21): a person as an OpenID provider knows them, (issuer, subject),
-- linked to one Portcullis user. Created at the first sign-in (just in time) or by an
-- administrator; never by matching a login silently.
CREATE TABLE identity_federated_identities (
    issuer          text        NOT NULL,
    subject         text        NOT NULL,
    provider        text        NOT NULL,
    user_id         uuid        NOT NULL REFERENCES identity_users (id) ON DELETE CASCADE,
    linked_at       timestamptz NOT NULL DEFAULT now(),
    last_sign_in_at timestamptz,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX identity_federated_identities_user ON identity_federated_identities (user_id);
