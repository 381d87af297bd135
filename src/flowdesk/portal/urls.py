"""The portal's routes, mounted at /portal/. Public: the sign-in page and its link form, the
new-request form, the suggestions partial, the help center (published articles), and the mailed
links (an invalid one is 404); everything else needs a signed-in customer.
tests/test_hard_edges.py walks them anonymously."""

from django.apps import apps
from django.urls import path

from flowdesk.portal import auth, new, password, views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("login", auth.login_view, name="login"),
    path("logout", auth.logout_view, name="logout"),
    path("signin/<str:token>", auth.signin_page, name="signin_page"),
    path("signin/<str:token>/go", auth.signin, name="signin"),
    path("new", new.new_ticket, name="new"),
    path("confirm/<str:token>", new.confirm, name="confirm"),
    path("suggest", new.suggestions, name="suggest"),
    path("password", password.set_password, name="password"),
    path("tickets/<int:ticket_id>", views.ticket_page, name="ticket"),
    path("tickets/<int:ticket_id>/reply", views.reply, name="reply"),
    path("tickets/<int:ticket_id>/solve", views.solve, name="solve"),
    path(
        "tickets/<int:ticket_id>/files/<int:message_id>/<str:file_id>",
        views.download,
        name="download",
    ),
]

if apps.is_installed("flowdesk.knowledge"):  # the help center is the knowledge base's
    from flowdesk.portal import help

    urlpatterns += [
        path("help/", help.home, name="help"),
        path("help/search", help.search, name="help_search"),
        path("help/categories/<slug:slug>", help.category, name="help_category"),
        path("help/articles/<slug:slug>", help.article, name="help_article"),
        path("help/articles/<slug:slug>/helpful", help.vote, name="help_vote"),
    ]
