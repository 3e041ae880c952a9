-- The versioned policy store (issue 9): every policy set ever pushed, with the schema it was
-- validated against, the tests that ran, who pushed it and why. History is append-only; what
-- gateways enforce is the one version `policy_active` points at, and moving that pointer
-- (push or rollback) publishes a NOTIFY on `portcullis_policies` in the same transaction.

CREATE TABLE policy_versions (
    version       bigint      PRIMARY KEY CHECK (version > 0),
    -- BLAKE2b-256 of the policy files' names and contents (hex): the version every gateway
    -- reports on /readyz and in each audit record, and the same value a gateway reading the
    -- same files from a directory computes.
    content_hash  text        NOT NULL CHECK (content_hash ~ '^[0-9a-f]{64}$'),
    schema_name   text        NOT NULL CHECK (schema_name IN ('schema.cedarschema', 'schema.cedarschema.json')),
    schema_text   text        NOT NULL,
    author        text        NOT NULL CHECK (author <> ''),
    message       text        NOT NULL CHECK (message <> ''),
    created_at    timestamptz NOT NULL DEFAULT now(),
    -- Set when this entry re-activates an older version (`policy rollback`); its files are a copy.
    rollback_of   bigint      REFERENCES policy_versions (version),
    -- Validation diagnostics (warnings only: a set with errors is never stored) and the test
    -- summary, as the checks reported them when this entry was made.
    validation    jsonb       NOT NULL,
    tests         jsonb       NOT NULL
);

-- The files of a version: its *.cedar policies and its tests (tests/<name>.yaml).
CREATE TABLE policy_files (
    version  bigint NOT NULL REFERENCES policy_versions (version),
    kind     text   NOT NULL CHECK (kind IN ('policy', 'test')),
    name     text   NOT NULL CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9._-]*$'),
    content  text   NOT NULL,
    CHECK ((kind = 'policy' AND name LIKE '%.cedar') OR (kind = 'test' AND name LIKE '%.yaml')),
    PRIMARY KEY (version, kind, name)
);

-- The version in force. Exactly one row, created here, so a push can lock it (SELECT … FOR
-- UPDATE) even before the first version exists: concurrent pushes are numbered one after the other.
CREATE TABLE policy_active (
    singleton     boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    version       bigint      REFERENCES policy_versions (version),
    activated_at  timestamptz,
    activated_by  text
);
INSERT INTO policy_active (singleton) VALUES (true);

CREATE FUNCTION policy_history_is_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'policy history is append-only: % on % refused', TG_OP, TG_TABLE_NAME
        USING ERRCODE = 'insufficient_privilege';
END
$$;

CREATE TRIGGER policy_versions_append_only BEFORE UPDATE OR DELETE ON policy_versions
    FOR EACH ROW EXECUTE FUNCTION policy_history_is_append_only();
CREATE TRIGGER policy_versions_no_truncate BEFORE TRUNCATE ON policy_versions
    FOR EACH STATEMENT EXECUTE FUNCTION policy_history_is_append_only();
CREATE TRIGGER policy_files_append_only BEFORE UPDATE OR DELETE ON policy_files
    FOR EACH ROW EXECUTE FUNCTION policy_history_is_append_only();
CREATE TRIGGER policy_files_no_truncate BEFORE TRUNCATE ON policy_files
    FOR EACH STATEMENT EXECUTE FUNCTION policy_history_is_append_only();
CREATE TRIGGER policy_active_keep BEFORE DELETE ON policy_active
    FOR EACH ROW EXECUTE FUNCTION policy_history_is_append_only();

-- Any change of the pointer is announced, whoever made it: listeners re-read the active version
-- (the payload only says which one, for logs).
CREATE FUNCTION policy_active_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('portcullis_policies', json_build_object(
        'version', NEW.version,
        'hash', (SELECT content_hash FROM policy_versions WHERE version = NEW.version))::text);
    RETURN NEW;
END
$$;

CREATE TRIGGER policy_active_changed AFTER UPDATE ON policy_active
    FOR EACH ROW EXECUTE FUNCTION policy_active_notify();
