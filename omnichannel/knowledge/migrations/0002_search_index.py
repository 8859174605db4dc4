"""The full-text index for `search.article_search`, in the form each database reads (KB-1):
an FTS5 table with sync triggers on SQLite; on PostgreSQL a stored generated column holding
the weighted tsvector, with a GIN index."""

from django.db import migrations

from omnichannel.knowledge.search import DOCUMENT_COLUMN, DOCUMENT_SQL, FTS_TABLE, FTS_WEIGHTS, SEARCH_INDEX

# Contentless, and holding published articles only: a search reads the best few ids straight
# from the index, ranked, and joins just those rows. Prefix indexes serve the word being typed.
SQLITE_CREATE = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        title, keywords, body, content='', prefix='2 3 4', tokenize='porter unicode61 remove_diacritics 2'
    )""",
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}, rank) VALUES ('rank', 'bm25({FTS_WEIGHTS})')",
    f"""CREATE TRIGGER knowledge_article_fts_insert AFTER INSERT ON knowledge_article WHEN new.published BEGIN
        INSERT INTO {FTS_TABLE}(rowid, title, keywords, body) VALUES (new.id, new.title, new.keywords, new.body);
    END""",
    f"""CREATE TRIGGER knowledge_article_fts_delete AFTER DELETE ON knowledge_article WHEN old.published BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, keywords, body)
        VALUES ('delete', old.id, old.title, old.keywords, old.body);
    END""",
    # One trigger, so the old entry always goes before the new one comes.
    f"""CREATE TRIGGER knowledge_article_fts_update AFTER UPDATE ON knowledge_article BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, keywords, body)
        SELECT 'delete', old.id, old.title, old.keywords, old.body WHERE old.published;
        INSERT INTO {FTS_TABLE}(rowid, title, keywords, body)
        SELECT new.id, new.title, new.keywords, new.body WHERE new.published;
    END""",
    # Articles that existed before the index.
    f"""INSERT INTO {FTS_TABLE}(rowid, title, keywords, body)
        SELECT id, title, keywords, body FROM knowledge_article WHERE published""",
]
POSTGRESQL_CREATE = [
    f"ALTER TABLE knowledge_article ADD COLUMN {DOCUMENT_COLUMN} tsvector GENERATED ALWAYS AS ({DOCUMENT_SQL}) STORED",
    f"CREATE INDEX {SEARCH_INDEX} ON knowledge_article USING gin ({DOCUMENT_COLUMN})",
]
POSTGRESQL_DROP = [
    f"DROP INDEX IF EXISTS {SEARCH_INDEX}",
    f"ALTER TABLE knowledge_article DROP COLUMN IF EXISTS {DOCUMENT_COLUMN}",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS knowledge_article_fts_insert",
    "DROP TRIGGER IF EXISTS knowledge_article_fts_delete",
    "DROP TRIGGER IF EXISTS knowledge_article_fts_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


STATEMENTS = {"sqlite": (SQLITE_CREATE, SQLITE_DROP), "postgresql": (POSTGRESQL_CREATE, POSTGRESQL_DROP)}


def create(apps, schema_editor):
    for statement in STATEMENTS.get(schema_editor.connection.vendor, ([], []))[0]:
        schema_editor.execute(statement)


def drop(apps, schema_editor):
    for statement in STATEMENTS.get(schema_editor.connection.vendor, ([], []))[1]:
        schema_editor.execute(statement)


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
