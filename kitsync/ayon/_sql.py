"""The SQL the reader runs against AYON's database. Values are always ``$n`` parameters; the only
text ever formatted in is a schema name that ``project_schema`` has validated.

jsonb columns are selected as text so the result does not depend on the pool's type codecs.
Folders, tasks and links come as one JSON array per query (``ROWS`` below): pydantic-core parses
one document far faster than Python decodes and validates tens of thousands of rows and their
jsonb values one by one. A whole project's folders, tasks or links are read in pages (of
``PAGE_ROWS`` by default; keyset on ``creation_order``, unique): a 20,000-shot series has
175,000 links, one document of ~50 MB whose parse took about three times that in memory.
"""

from __future__ import annotations

# Folders, tasks and links: the column holding the query's JSON array, one object per row, with
# ids as AYON's 32 hex digits and attrib and data always objects.
ROWS = "entities"
# The query's last ``creation_order`` (null when it found nothing): where the next page starts.
LAST = "last"
PAGE_ROWS = 10_000


def _hex(column: str) -> str:
    return f"replace({column}::text, '-', '')"


def _object(column: str) -> str:
    # A jsonb that is not an object (never written by AYON) reads as an empty one.
    return f"CASE WHEN jsonb_typeof({column}) = 'object' THEN {column} ELSE '{{}}'::jsonb END"


def _rows(fields: dict[str, str], source: str, alias: str) -> str:
    """The rows of ``source`` as one JSON array of ``{key: expression}`` objects, in creation
    order, and the last one's ``creation_order``."""
    pairs = ", ".join(f"'{key}', {value}" for key, value in fields.items())
    order = f"{alias}.creation_order"
    return (
        f"SELECT coalesce(json_agg(json_build_object({pairs}) ORDER BY {order}), '[]')::text"
        f" AS {ROWS}, max({order}) AS {LAST}\n{source}"
    )


def _picked(table: str, alias: str, condition: str, page: int | None) -> str:
    """The rows of ``table`` matching ``condition``; with ``page`` (the number of the first of
    two more parameters), only those after creation order ``$page``, at most ``$page+1``."""
    # The table's schema is validated by project_schema; conditions are constants.
    picked = f"SELECT {alias}.* FROM {table} {alias} WHERE ({condition})"  # noqa: S608
    if page is None:
        return picked
    return (
        f"{picked} AND {alias}.creation_order > ${page}"
        f" ORDER BY {alias}.creation_order LIMIT ${page + 1}"
    )


_FOLDER = {
    "id": _hex("p.id"),
    "name": "p.name",
    "label": "p.label",
    "folder_type": "p.folder_type",
    "parent_id": _hex("p.parent_id"),
    "attrib": _object("p.attrib"),
    "data": _object("p.data"),
    "status": "p.status",
    "tags": "p.tags",
    "active": "p.active",
    "path": "c.path",
}
_TASK = {
    "id": _hex("t.id"),
    "name": "t.name",
    "label": "t.label",
    "folder_id": _hex("t.folder_id"),
    "task_type": "t.task_type",
    "assignees": "t.assignees",
    "attrib": _object("t.attrib"),
    "data": _object("t.data"),
    "status": "t.status",
    "tags": "t.tags",
    "active": "t.active",
}
_LINK = {
    "id": _hex("l.id"),
    "name": "l.name",
    "link_type": "l.link_type",
    "input_id": _hex("l.input_id"),
    "output_id": _hex("l.output_id"),
    "data": _object("l.data"),
}

# Conditions that pick the folders of a folder query (``f`` is the folders table).
FOLDERS_BY_IDS = "f.id = ANY($1::uuid[])"
FOLDERS_BY_KITSU_IDS = "f.id = ANY($1::uuid[]) OR f.data->>'kitsuId' = ANY($2::text[])"
FOLDERS_BY_PARENTS = "f.parent_id = ANY($1::uuid[]) OR ($2::boolean AND f.parent_id IS NULL)"
EVERY_FOLDER = "TRUE"

# Deep enough for any real hierarchy; stops a corrupt parent cycle from looping forever.
_MAX_DEPTH = 256


def folders(schema: str, condition: str, page: int | None = None) -> str:
    """Folders matching ``condition`` (a page of them, see ``_picked``), each with its path,
    built upwards from the picked rows only (the ``hierarchy`` view lags behind direct writes
    and may not exist in every deployment)."""
    picked = "FROM picked p JOIN chain c ON c.start_id = p.id AND c.next_id IS NULL"
    return f"""
WITH RECURSIVE picked AS (
    {_picked(f"{schema}.folders", "f", condition, page)}
), chain AS (
    SELECT p.id AS start_id, p.parent_id AS next_id, p.name::text AS path, 1 AS depth
    FROM picked p
    UNION ALL
    SELECT c.start_id, f.parent_id, f.name || '/' || c.path, c.depth + 1
    FROM chain c JOIN {schema}.folders f ON f.id = c.next_id
    WHERE c.depth < {_MAX_DEPTH}
)
{_rows(_FOLDER, picked, "p")}
"""  # noqa: S608 - schema validated by project_schema; conditions are constants


def tasks(schema: str, condition: str, page: int | None = None) -> str:
    """Tasks matching ``condition`` (``t`` is the tasks table; a page, see ``_picked``)."""
    return _rows(_TASK, f"FROM ({_picked(f'{schema}.tasks', 't', condition, page)}) t", "t")


TASKS_BY_KITSU_IDS = "t.id = ANY($1::uuid[]) OR t.data->>'kitsuId' = ANY($2::text[])"
TASKS_BY_FOLDERS = "t.folder_id = ANY($1::uuid[])"
TASKS_BY_IDS = "t.id = ANY($1::uuid[])"
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


def links(schema: str, condition: str, page: int | None = None) -> str:
    """Links matching ``condition`` (``l`` is the links table; a page, see ``_picked``)."""
    return _rows(_LINK, f"FROM ({_picked(f'{schema}.links', 'l', condition, page)}) l", "l")


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

USER_EMAILS = """
SELECT name, lower(attrib->>'email') AS email
FROM public.users
WHERE name = ANY($1::text[]) AND coalesce(attrib->>'email', '') <> ''
"""

USERS_BY_EMAIL = """
SELECT lower(attrib->>'email') AS email, name
FROM public.users
WHERE lower(attrib->>'email') = ANY($1::text[])
ORDER BY active DESC, name
"""

# Sessions of kitsync processes other than the asking one (AYON's own have another name).
KITSYNC_CONNECTIONS = """
SELECT count(*) AS sessions
FROM pg_stat_activity
WHERE application_name = $1 AND datname = current_database() AND pid <> pg_backend_pid()
"""
