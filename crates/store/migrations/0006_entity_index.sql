-- Ingest cost (issue #3): a leaner entity index, and fewer per-row checks on PostgreSQL.

-- The entity index of `by-entity`: one row per (kind, identifier, incident) holding only its
-- key. On SQLite the table is its own index (WITHOUT ROWID), so a row costs one B-tree
-- insertion instead of three (table, primary key and lookup index). On PostgreSQL the columns
-- a lookup binds compare bytewise (COLLATE "C", SQLite's order too) instead of through the
-- locale; `incident_id` keeps the default, as it is compared with `incidents.id`. Rows are
-- written and removed by their full key (the ingest knows an incident's previous entities).
-- No foreign key: on PostgreSQL its check is a query and a row lock per inserted row.
-- Deleting a workspace deletes its rows explicitly.
CREATE TABLE incident_entity_index (
    workspace_id TEXT {{COLLATE_C}} NOT NULL,
    source TEXT {{COLLATE_C}} NOT NULL,
    kind TEXT {{COLLATE_C}} NOT NULL,
    entity_key TEXT {{COLLATE_C}} NOT NULL,
    incident_id TEXT NOT NULL,
    PRIMARY KEY (workspace_id, source, kind, entity_key, incident_id)
) {{WITHOUT_ROWID}};

INSERT INTO incident_entity_index (workspace_id, source, kind, entity_key, incident_id)
    SELECT DISTINCT workspace_id, source, kind, entity_key, incident_id FROM incident_entity_keys;

DROP TABLE incident_entity_keys;

-- Nothing deletes an organization, so on PostgreSQL the per-row check of the organization
-- key, on the two tables every ingest writes, is pure cost. SQLite's checks are index
-- lookups and stay.
{{POSTGRES}} ALTER TABLE incidents DROP CONSTRAINT IF EXISTS incidents_organization_id_fkey;
{{POSTGRES}} ALTER TABLE events DROP CONSTRAINT IF EXISTS events_organization_id_fkey;

-- The outbox is read by its partial "pending" indexes and by id, never by organization and
-- time: the index on those only cost every ingested event an insertion.
DROP INDEX IF EXISTS events_org;
