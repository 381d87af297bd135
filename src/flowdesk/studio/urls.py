"""The studio's routes under /studio/ (the Django admin is mounted at /studio/admin/ by
flowdesk.config.urls). tests/test_hard_edges.py walks them all anonymously."""

from django.urls import path

from flowdesk.studio import editor, pages

app_name = "studio"

urlpatterns = [
    path("", pages.ruleset_page, name="ruleset"),
    path("edit", editor.editor_page, name="editor"),
    path("versions/<int:number>", pages.version_page, name="version"),
    path("versions/<int:number>/restore", pages.restore_page, name="restore"),
    path("diff", pages.diff_page, name="diff"),
    path("flowchart", pages.flowchart_page, name="flowchart"),
]
