-- Schema of one fake AYON project, as SCHEMA.md describes AYON 1.16's catalog.
-- {schema} is replaced by "project_<name>" after the name is checked against ^[a-zA-Z0-9_]+$.

CREATE SCHEMA {schema};

CREATE TABLE {schema}.thumbnails (
    id UUID NOT NULL PRIMARY KEY,
    mime VARCHAR,
    data BYTEA,
    created_at TIMESTAMPTZ DEFAULT NOW()
);

CREATE TABLE {schema}.folder_types (
    name VARCHAR NOT NULL PRIMARY KEY CHECK (name <> ''),
    position INTEGER NOT NULL DEFAULT 0,
    data JSONB NOT NULL DEFAULT '{}'::JSONB
);
CREATE UNIQUE INDEX folder_types_name_ci ON {schema}.folder_types (LOWER(name));

CREATE TABLE {schema}.task_types (
    name VARCHAR NOT NULL PRIMARY KEY CHECK (name <> ''),
    position INTEGER NOT NULL DEFAULT 0,
    data JSONB NOT NULL DEFAULT '{}'::JSONB
);
CREATE UNIQUE INDEX task_types_name_ci ON {schema}.task_types (LOWER(name));

CREATE TABLE {schema}.statuses (
    name VARCHAR NOT NULL PRIMARY KEY CHECK (name <> ''),
    position INTEGER NOT NULL DEFAULT 0,
    data JSONB NOT NULL DEFAULT '{}'::JSONB
);
CREATE UNIQUE INDEX statuses_name_ci ON {schema}.statuses (LOWER(name));

-- Project tags (the anatomy "tags" list); same layout as the three tables above.
CREATE TABLE {schema}.tags (
    name VARCHAR NOT NULL PRIMARY KEY CHECK (name <> ''),
    position INTEGER NOT NULL DEFAULT 0,
    data JSONB NOT NULL DEFAULT '{}'::JSONB
);
CREATE UNIQUE INDEX tags_name_ci ON {schema}.tags (LOWER(name));

CREATE TABLE {schema}.link_types (
    name VARCHAR NOT NULL PRIMARY KEY,
    input_type VARCHAR NOT NULL,
    output_type VARCHAR NOT NULL,
    link_type VARCHAR NOT NULL,
    data JSONB NOT NULL DEFAULT '{}'::JSONB,
    UNIQUE (input_type, output_type, link_type)
);

CREATE TABLE {schema}.folders (
    id UUID NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    label VARCHAR,
    folder_type VARCHAR NOT NULL
        REFERENCES {schema}.folder_types (name) ON UPDATE CASCADE,
    parent_id UUID REFERENCES {schema}.folders (id) ON DELETE CASCADE,
    thumbnail_id UUID REFERENCES {schema}.thumbnails (id) ON DELETE SET NULL,
    attrib JSONB NOT NULL DEFAULT '{}'::JSONB,
    data JSONB NOT NULL DEFAULT '{}'::JSONB,
    status VARCHAR NOT NULL REFERENCES {schema}.statuses (name) ON UPDATE CASCADE,
    tags VARCHAR[] NOT NULL DEFAULT ARRAY[]::VARCHAR[],
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    created_by VARCHAR,
    updated_by VARCHAR,
    creation_order SERIAL NOT NULL
);
CREATE UNIQUE INDEX folders_creation_order_unique ON {schema}.folders (creation_order);
-- Names are unique ignoring case among ACTIVE siblings; root folders have their own rule
-- because NULL parent ids never collide in a unique index.
CREATE UNIQUE INDEX folders_unique_name_parent ON {schema}.folders (parent_id, LOWER(name))
    WHERE active IS TRUE AND parent_id IS NOT NULL;
CREATE UNIQUE INDEX folders_unique_name_root ON {schema}.folders (LOWER(name))
    WHERE active IS TRUE AND parent_id IS NULL;
CREATE INDEX folders_parent_id_idx ON {schema}.folders (parent_id);
CREATE INDEX folders_thumbnail_id_idx ON {schema}.folders (thumbnail_id);
CREATE INDEX folders_folder_type_idx ON {schema}.folders (folder_type);
CREATE INDEX folders_status_idx ON {schema}.folders (status);
CREATE INDEX folders_attrib_idx ON {schema}.folders USING GIN (attrib);

CREATE TABLE {schema}.tasks (
    id UUID NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    label VARCHAR,
    folder_id UUID NOT NULL REFERENCES {schema}.folders (id) ON DELETE CASCADE,
    task_type VARCHAR REFERENCES {schema}.task_types (name) ON UPDATE CASCADE,
    assignees VARCHAR[] NOT NULL DEFAULT ARRAY[]::VARCHAR[],
    thumbnail_id UUID REFERENCES {schema}.thumbnails (id) ON DELETE SET NULL,
    attrib JSONB NOT NULL DEFAULT '{}'::JSONB,
    data JSONB NOT NULL DEFAULT '{}'::JSONB,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    status VARCHAR NOT NULL REFERENCES {schema}.statuses (name) ON UPDATE CASCADE,
    tags VARCHAR[] NOT NULL DEFAULT ARRAY[]::VARCHAR[],
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    created_by VARCHAR,
    updated_by VARCHAR,
    creation_order SERIAL NOT NULL
);
CREATE UNIQUE INDEX tasks_creation_order_unique ON {schema}.tasks (creation_order);
CREATE UNIQUE INDEX tasks_unique_name_folder ON {schema}.tasks (folder_id, LOWER(name))
    WHERE active IS TRUE;
CREATE INDEX tasks_assignees_idx ON {schema}.tasks USING GIN (assignees);
CREATE INDEX tasks_attrib_idx ON {schema}.tasks USING GIN (attrib);
CREATE INDEX tasks_folder_id_idx ON {schema}.tasks (folder_id);
CREATE INDEX tasks_status_idx ON {schema}.tasks (status);
CREATE INDEX tasks_thumbnail_id_idx ON {schema}.tasks (thumbnail_id);
CREATE INDEX tasks_task_type_idx ON {schema}.tasks (task_type);

-- Minimal: only what "a folder with products cannot be deleted" needs (no ON DELETE action).
CREATE TABLE {schema}.products (
    id UUID NOT NULL PRIMARY KEY,
    name VARCHAR NOT NULL,
    folder_id UUID NOT NULL REFERENCES {schema}.folders (id),
    product_type VARCHAR NOT NULL,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    data JSONB NOT NULL DEFAULT '{}'::JSONB
);
CREATE INDEX products_folder_id_idx ON {schema}.products (folder_id);

CREATE TABLE {schema}.links (
    id UUID NOT NULL PRIMARY KEY,
    name VARCHAR,
    link_type VARCHAR NOT NULL REFERENCES {schema}.link_types (name) ON DELETE CASCADE,
    input_id UUID NOT NULL,
    output_id UUID NOT NULL,
    author VARCHAR,
    data JSONB NOT NULL DEFAULT '{}'::JSONB,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    creation_order SERIAL NOT NULL
);
CREATE UNIQUE INDEX links_creation_order_unique ON {schema}.links (creation_order);
CREATE INDEX links_input_id_idx ON {schema}.links (input_id);
CREATE INDEX links_output_id_idx ON {schema}.links (output_id);

-- One row per folder (inactive ones too); path without a leading slash.
CREATE MATERIALIZED VIEW {schema}.hierarchy AS
    WITH RECURSIVE chain (id, path) AS (
        SELECT id, name::TEXT FROM {schema}.folders WHERE parent_id IS NULL
        UNION ALL
        SELECT f.id, chain.path || '/' || f.name
        FROM {schema}.folders AS f
        INNER JOIN chain ON f.parent_id = chain.id
    )
    SELECT id, path FROM chain;
CREATE UNIQUE INDEX hierarchy_id_unique ON {schema}.hierarchy (id);
CREATE INDEX hierarchy_path_idx ON {schema}.hierarchy (path);
