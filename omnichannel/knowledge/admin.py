from django.contrib import admin

from .models import Article


@admin.register(Article)
class ArticleAdmin(admin.ModelAdmin):
    """Administrators write and publish articles; agents find published ones in the workspace (KB-1)."""

    list_display = ["title", "published", "updated_at"]
    list_filter = ["published", "updated_at"]
    search_fields = ["title", "keywords", "body"]
    prepopulated_fields = {"slug": ["title"]}
    fields = ["title", "slug", "keywords", "body", "published"]
