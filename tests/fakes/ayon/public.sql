-- Public tables of the fake AYON server, as SCHEMA.md describes AYON 1.16's catalog.
-- Idempotent: several fake apps may share one database. The caller holds an advisory lock.
-- "text" in SCHEMA.md is character varying: VARCHAR keeps Postgres' error details identical
-- (an index on lower(name) is reported as "lower(name::text)").

CREATE TABLE IF NOT EXISTS public.projects (
    name VARCHAR NOT NULL PRIMARY KEY,
    label VARCHAR,
    code VARCHAR NOT NULL,
    library BOOLEAN NOT NULL DEFAULT FALSE,
    config JSONB NOT NULL DEFAULT '{}'::JSONB,
    attrib JSONB NOT NULL DEFAULT '{}'::JSONB,
    data JSONB NOT NULL DEFAULT '{}'::JSONB,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE UNIQUE INDEX IF NOT EXISTS projects_name_ci ON public.projects (LOWER(name));
CREATE UNIQUE INDEX IF NOT EXISTS projects_code_ci ON public.projects (LOWER(code));
CREATE UNIQUE INDEX IF NOT EXISTS projects_label_ci ON public.projects (LOWER(label));
CREATE INDEX IF NOT EXISTS projects_active_idx ON public.projects (active);

CREATE TABLE IF NOT EXISTS public.users (
    name VARCHAR NOT NULL PRIMARY KEY,
    attrib JSONB NOT NULL DEFAULT '{}'::JSONB,
    data JSONB NOT NULL DEFAULT '{}'::JSONB,
    active BOOLEAN NOT NULL DEFAULT TRUE,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW()
);
CREATE UNIQUE INDEX IF NOT EXISTS users_name_ci ON public.users (LOWER(name));

CREATE TABLE IF NOT EXISTS public.events (
    id UUID NOT NULL PRIMARY KEY,
    hash VARCHAR NOT NULL,
    topic VARCHAR NOT NULL,
    sender VARCHAR,
    sender_type VARCHAR,
    project_name VARCHAR,
    user_name VARCHAR,
    depends_on UUID REFERENCES public.events (id),
    status VARCHAR NOT NULL DEFAULT 'finished'
        CHECK (status IN ('pending', 'in_progress', 'finished', 'failed', 'aborted', 'restarted')),
    retries INTEGER NOT NULL DEFAULT 0,
    description TEXT NOT NULL DEFAULT '',
    summary JSONB NOT NULL DEFAULT '{}'::JSONB,
    payload JSONB NOT NULL DEFAULT '{}'::JSONB,
    created_at TIMESTAMPTZ DEFAULT NOW(),
    updated_at TIMESTAMPTZ DEFAULT NOW(),
    creation_order SERIAL NOT NULL
);
CREATE UNIQUE INDEX IF NOT EXISTS events_hash_unique ON public.events (hash);
CREATE UNIQUE INDEX IF NOT EXISTS events_creation_order_unique ON public.events (creation_order);
CREATE INDEX IF NOT EXISTS events_created_at_idx ON public.events (created_at);
CREATE INDEX IF NOT EXISTS events_updated_at_idx ON public.events (updated_at);
CREATE INDEX IF NOT EXISTS events_depends_on_idx ON public.events (depends_on);
CREATE INDEX IF NOT EXISTS events_project_name_idx ON public.events (project_name);
CREATE INDEX IF NOT EXISTS events_user_name_idx ON public.events (user_name);
CREATE INDEX IF NOT EXISTS events_status_idx ON public.events (status);
CREATE INDEX IF NOT EXISTS events_retries_idx ON public.events (retries);
CREATE INDEX IF NOT EXISTS events_sender_type_idx ON public.events (sender_type);
CREATE INDEX IF NOT EXISTS events_topic_status_created_idx ON public.events (topic, status, created_at);
CREATE INDEX IF NOT EXISTS events_depends_on_topic_idx ON public.events (depends_on, topic);
CREATE INDEX IF NOT EXISTS events_topic_updated_partial_idx ON public.events (topic, updated_at)
    INCLUDE (depends_on)
    WHERE depends_on IS NOT NULL AND status IN ('finished', 'failed');
