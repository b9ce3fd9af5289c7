"""The SQL the reader runs against AYON's database. Values are always ``$n`` parameters; the only
text ever formatted in is a schema name that ``project_schema`` has validated.

jsonb columns are selected as text so the result does not depend on the pool's type codecs.
"""

from __future__ import annotations

# Conditions that pick the folders of a folder query (``f`` is the folders table).
FOLDERS_BY_IDS = "f.id = ANY($1::uuid[])"
FOLDERS_BY_KITSU_IDS = "f.id = ANY($1::uuid[]) OR f.data->>'kitsuId' = ANY($2::text[])"
FOLDERS_BY_PARENTS = "f.parent_id = ANY($1::uuid[]) OR ($2::boolean AND f.parent_id IS NULL)"
EVERY_FOLDER = "TRUE"

# Deep enough for any real hierarchy; stops a corrupt parent cycle from looping forever.
_MAX_DEPTH = 256


def folders(schema: str, condition: str) -> str:
    """Folders matching ``condition``, each with its path, built upwards from the picked rows only
    (the ``hierarchy`` view lags behind direct writes and may not exist in every deployment)."""
    return f"""
WITH RECURSIVE picked AS (
    SELECT f.* FROM {schema}.folders f WHERE {condition}
), chain AS (
    SELECT p.id AS start_id, p.parent_id AS next_id, p.name::text AS path, 1 AS depth
    FROM picked p
    UNION ALL
    SELECT c.start_id, f.parent_id, f.name || '/' || c.path, c.depth + 1
    FROM chain c JOIN {schema}.folders f ON f.id = c.next_id
    WHERE c.depth < {_MAX_DEPTH}
)
SELECT p.id, p.name, p.label, p.folder_type, p.parent_id, p.attrib::text AS attrib,
       p.data::text AS data, p.status, p.tags, p.active, c.path
FROM picked p JOIN chain c ON c.start_id = p.id AND c.next_id IS NULL
ORDER BY p.creation_order
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


def tasks(schema: str, condition: str) -> str:
    """Tasks matching ``condition`` (``t`` is the tasks table)."""
    return f"""
SELECT t.id, t.name, t.label, t.folder_id, t.task_type, t.assignees, t.attrib::text AS attrib,
       t.data::text AS data, t.status, t.tags, t.active
FROM {schema}.tasks t WHERE {condition}
ORDER BY t.creation_order
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


TASKS_BY_KITSU_IDS = "t.id = ANY($1::uuid[]) OR t.data->>'kitsuId' = ANY($2::text[])"
TASKS_BY_FOLDERS = "t.folder_id = ANY($1::uuid[])"
EVERY_TASK = "TRUE"


def folders_with_products(schema: str) -> str:
    """Which of the given folders have a product in their subtree (themselves included)."""
    return f"""
WITH RECURSIVE subtree AS (
    SELECT f.id AS root_id, f.id, 1 AS depth FROM {schema}.folders f WHERE f.id = ANY($1::uuid[])
    UNION ALL
    SELECT s.root_id, f.id, s.depth + 1
    FROM subtree s JOIN {schema}.folders f ON f.parent_id = s.id
    WHERE s.depth < {_MAX_DEPTH}
)
SELECT DISTINCT s.root_id AS id
FROM subtree s
WHERE EXISTS (SELECT 1 FROM {schema}.products pr WHERE pr.folder_id = s.id)
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


def links(schema: str, condition: str) -> str:
    """Links matching ``condition`` (``l`` is the links table)."""
    return f"""
SELECT l.id, l.name, l.link_type, l.input_id, l.output_id, l.data::text AS data
FROM {schema}.links l WHERE {condition}
ORDER BY l.creation_order
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


LINKS_OF_OUTPUTS = "l.output_id = ANY($1::uuid[]) AND l.link_type = $2"
LINKS_INTO_OR_IDS = "(l.output_id = ANY($1::uuid[]) AND l.link_type = $2) OR l.id = ANY($3::uuid[])"
LINKS_OF_TYPE = "l.link_type = $1"
LINKS_TOUCHING = "l.input_id = ANY($1::uuid[]) OR l.output_id = ANY($1::uuid[])"


def subtree_ids(schema: str) -> str:
    """The ids of the given folders, of all their descendants and of the tasks of all these:
    everything a folder delete takes along."""
    return f"""
WITH RECURSIVE subtree AS (
    SELECT f.id, 1 AS depth FROM {schema}.folders f WHERE f.id = ANY($1::uuid[])
    UNION ALL
    SELECT f.id, s.depth + 1
    FROM subtree s JOIN {schema}.folders f ON f.parent_id = s.id
    WHERE s.depth < {_MAX_DEPTH}
)
SELECT id FROM subtree
UNION
SELECT t.id FROM {schema}.tasks t WHERE t.folder_id IN (SELECT id FROM subtree)
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


def anatomy(schema: str) -> str:
    """All four anatomy lists in one round trip, each in AYON's order."""
    return f"""
SELECT 'folder_types' AS kind, position AS pos, name,
       (data || jsonb_build_object('name', name))::text AS item
FROM {schema}.folder_types
UNION ALL
SELECT 'task_types', position, name, (data || jsonb_build_object('name', name))::text
FROM {schema}.task_types
UNION ALL
SELECT 'statuses', position, name, (data || jsonb_build_object('name', name))::text
FROM {schema}.statuses
UNION ALL
SELECT 'link_types', 0, name,
       jsonb_build_object('name', name, 'linkType', link_type, 'inputType', input_type,
                          'outputType', output_type, 'data', data)::text
FROM {schema}.link_types
ORDER BY kind, pos, name
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


PAIRED_PROJECTS = """
SELECT data->>'kitsuProjectId' AS kitsu_id, name
FROM public.projects
WHERE active AND data->>'kitsuProjectId' IS NOT NULL
ORDER BY name
"""

PAIRED_PROJECT = """
SELECT data->>'kitsuProjectId' AS kitsu_id, name
FROM public.projects
WHERE active AND data->>'kitsuProjectId' = $1
ORDER BY name
"""

_PROJECT_SUMMARY = """
SELECT name, code, label, active, data->>'kitsuProjectId' AS kitsu_id, attrib::text AS attrib
FROM public.projects
"""
PROJECTS = _PROJECT_SUMMARY + "ORDER BY name"
PROJECT = _PROJECT_SUMMARY + "WHERE name = $1"

USERS_BY_EMAIL = """
SELECT lower(attrib->>'email') AS email, name
FROM public.users
WHERE lower(attrib->>'email') = ANY($1::text[])
ORDER BY active DESC, name
"""
