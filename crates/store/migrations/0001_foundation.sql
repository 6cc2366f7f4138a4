-- Portable DDL: the same statements run on SQLite and PostgreSQL.
-- Ids are TEXT (GUIDs), instants are BIGINT microseconds since the Unix epoch, booleans are
-- BIGINT 0/1, lists are JSON text. Every tenant-owned row carries organization_id.

CREATE TABLE palisade_keys (
    name TEXT PRIMARY KEY,
    value TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE organizations (
    id TEXT PRIMARY KEY,
    name TEXT NOT NULL,
    own_account_id TEXT NOT NULL,
    created_at BIGINT NOT NULL
);

CREATE TABLE accounts (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    is_service_provider BIGINT NOT NULL,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL
);
CREATE INDEX accounts_org ON accounts (organization_id, created_at);

CREATE TABLE workspaces (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL
);
CREATE INDEX workspaces_org ON workspaces (organization_id, created_at);
CREATE INDEX workspaces_account ON workspaces (account_id);

CREATE TABLE service_accounts (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    account_id TEXT NOT NULL REFERENCES accounts (id),
    name TEXT NOT NULL,
    description TEXT,
    is_active BIGINT NOT NULL,
    organizational_role TEXT NOT NULL,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL
);
CREATE INDEX service_accounts_org ON service_accounts (organization_id, created_at);

CREATE TABLE credentials (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    service_account_id TEXT NOT NULL REFERENCES service_accounts (id) ON DELETE CASCADE,
    secret_hash TEXT NOT NULL UNIQUE,
    scopes TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    revoked_at BIGINT,
    last_used_at BIGINT,
    created_at BIGINT NOT NULL
);
CREATE INDEX credentials_account ON credentials (service_account_id, created_at);

CREATE TABLE users (
    id TEXT PRIMARY KEY,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    display_name TEXT NOT NULL,
    email TEXT,
    email_key TEXT,
    tenant_id TEXT,
    organizational_role TEXT NOT NULL,
    is_owner BIGINT NOT NULL,
    is_active BIGINT NOT NULL,
    added_on BIGINT NOT NULL,
    last_modified_at BIGINT NOT NULL
);
CREATE INDEX users_org ON users (organization_id, added_on);
CREATE UNIQUE INDEX users_org_email ON users (organization_id, email_key);

-- Workspace roles of service accounts ('sa') and users ('user').
CREATE TABLE workspace_roles (
    workspace_id TEXT NOT NULL REFERENCES workspaces (id) ON DELETE CASCADE,
    principal_id TEXT NOT NULL,
    organization_id TEXT NOT NULL REFERENCES organizations (id) ON DELETE CASCADE,
    principal_kind TEXT NOT NULL,
    role TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    PRIMARY KEY (workspace_id, principal_id)
);
CREATE INDEX workspace_roles_principal ON workspace_roles (principal_id);
