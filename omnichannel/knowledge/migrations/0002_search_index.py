"""The full-text index for `search.article_search`, in the form each database reads (KB-1):
an FTS5 table with sync triggers on SQLite, a GIN index on the weighted tsvector on PostgreSQL."""

from django.db import migrations

from omnichannel.knowledge.search import FTS_TABLE, search_index

SQLITE_CREATE = [
    f"""CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(
        title, keywords, body,
        content='knowledge_article', content_rowid='id',
        tokenize='porter unicode61 remove_diacritics 2'
    )""",
    f"""CREATE TRIGGER knowledge_article_fts_insert AFTER INSERT ON knowledge_article BEGIN
        INSERT INTO {FTS_TABLE}(rowid, title, keywords, body) VALUES (new.id, new.title, new.keywords, new.body);
    END""",
    f"""CREATE TRIGGER knowledge_article_fts_delete AFTER DELETE ON knowledge_article BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, keywords, body)
        VALUES ('delete', old.id, old.title, old.keywords, old.body);
    END""",
    f"""CREATE TRIGGER knowledge_article_fts_update AFTER UPDATE ON knowledge_article BEGIN
        INSERT INTO {FTS_TABLE}({FTS_TABLE}, rowid, title, keywords, body)
        VALUES ('delete', old.id, old.title, old.keywords, old.body);
        INSERT INTO {FTS_TABLE}(rowid, title, keywords, body) VALUES (new.id, new.title, new.keywords, new.body);
    END""",
    # Articles that existed before the index.
    f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS knowledge_article_fts_insert",
    "DROP TRIGGER IF EXISTS knowledge_article_fts_delete",
    "DROP TRIGGER IF EXISTS knowledge_article_fts_update",
    f"DROP TABLE IF EXISTS {FTS_TABLE}",
]


def create(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_CREATE:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.add_index(apps.get_model("knowledge", "Article"), search_index())


def drop(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "sqlite":
        for statement in SQLITE_DROP:
            schema_editor.execute(statement)
    elif vendor == "postgresql":
        schema_editor.remove_index(apps.get_model("knowledge", "Article"), search_index())


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]
    operations = [migrations.RunPython(create, drop)]
