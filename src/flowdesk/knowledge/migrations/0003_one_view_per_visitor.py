"""One view per article and visitor (docs/knowledge.md, "Views, votes and deflection"): the
repeated views recorded before are folded into the first (the counters stay as they were)."""

from typing import Any

from django.db import migrations, models
from django.db.models import Min


def keep_first_views(apps: Any, schema_editor: Any) -> None:
    view = apps.get_model("knowledge", "ArticleView")
    first = view.objects.values("article_id", "visitor_key").annotate(first=Min("pk"))
    keep = [row["first"] for row in first]
    view.objects.exclude(pk__in=keep).delete()


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_search_index")]

    operations = [
        migrations.RunPython(keep_first_views, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="articleview",
            constraint=models.UniqueConstraint(
                fields=("article", "visitor_key"), name="kb_one_view_per_visitor"
            ),
        ),
    ]
