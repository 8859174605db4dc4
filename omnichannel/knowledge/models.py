"""Knowledge articles (KB-1). Search lives in `search.py`, beside the index it reads."""

from __future__ import annotations

from django.db import models
from django.urls import reverse
from django.utils.translation import gettext_lazy as _


class Article(models.Model):
    title = models.CharField(_("title"), max_length=200)
    slug = models.SlugField(
        _("slug"), max_length=200, unique=True, help_text=_("The article's address on the public help pages.")
    )
    body = models.TextField(_("body"), help_text=_("Plain text; blank lines separate paragraphs."))
    keywords = models.CharField(
        _("keywords"),
        max_length=500,
        blank=True,
        help_text=_("Words customers use for this topic that the text may not contain; they rank above the body."),
    )
    published = models.BooleanField(
        _("published"), default=False, help_text=_("Only published articles are found and can be sent to customers.")
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    class Meta:
        ordering = ["title"]
        verbose_name = _("article")
        verbose_name_plural = _("articles")

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("knowledge:article", args=[self.slug])
