"""The portal's routes, mounted at /portal/. Public: the sign-in page and its link form, the
new-request form, the suggestions partial, and the mailed links (an invalid one is 404);
everything else needs a signed-in customer. tests/test_hard_edges.py walks them anonymously."""

from django.urls import path

from flowdesk.portal import auth, new, views

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
    path("tickets/<int:ticket_id>", views.ticket_page, name="ticket"),
    path("tickets/<int:ticket_id>/reply", views.reply, name="reply"),
    path("tickets/<int:ticket_id>/solve", views.solve, name="solve"),
    path(
        "tickets/<int:ticket_id>/files/<int:message_id>/<str:file_id>",
        views.download,
        name="download",
    ),
]
