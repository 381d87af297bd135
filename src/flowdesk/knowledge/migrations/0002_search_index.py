"""The full-text index of article translations, per database (flowdesk.knowledge.search).

SQLite: an FTS5 table whose rowid is the translation's id, kept by triggers. PostgreSQL: a
generated tsvector column (title weight A, body weight B, the `simple` configuration) with a
GIN index. Both index the already folded words of `search_title` and `search_body`.
"""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE knowledge_fts USING fts5(title, body, tokenize = 'unicode61')",
    """CREATE TRIGGER knowledge_fts_insert AFTER INSERT ON knowledge_articletranslation BEGIN
        INSERT INTO knowledge_fts(rowid, title, body)
        VALUES (new.id, new.search_title, new.search_body);
    END""",
    """CREATE TRIGGER knowledge_fts_update AFTER UPDATE OF search_title, search_body
        ON knowledge_articletranslation BEGIN
        UPDATE knowledge_fts SET title = new.search_title, body = new.search_body
        WHERE rowid = old.id;
    END""",
    """CREATE TRIGGER knowledge_fts_delete AFTER DELETE ON knowledge_articletranslation BEGIN
        DELETE FROM knowledge_fts WHERE rowid = old.id;
    END""",
    """INSERT INTO knowledge_fts(rowid, title, body)
        SELECT id, search_title, search_body FROM knowledge_articletranslation""",
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS knowledge_fts_insert",
    "DROP TRIGGER IF EXISTS knowledge_fts_update",
    "DROP TRIGGER IF EXISTS knowledge_fts_delete",
    "DROP TABLE IF EXISTS knowledge_fts",
]
POSTGRESQL = [
    """ALTER TABLE knowledge_articletranslation ADD COLUMN search_vector tsvector
        GENERATED ALWAYS AS (
            setweight(to_tsvector('simple'::regconfig, search_title), 'A')
            || setweight(to_tsvector('simple'::regconfig, search_body), 'B')
        ) STORED""",
    """CREATE INDEX knowledge_translation_search ON knowledge_articletranslation
        USING gin (search_vector)""",
]
POSTGRESQL_REVERSE = [
    "DROP INDEX IF EXISTS knowledge_translation_search",
    "ALTER TABLE knowledge_articletranslation DROP COLUMN IF EXISTS search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        for sql in statements.get(schema_editor.connection.vendor, []):
            schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"sqlite": SQLITE, "postgresql": POSTGRESQL}),
            _run({"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}),
        )
    ]
