"""The workspace's routes: sign-in at /login, sign-out (POST) at /logout, password reset under
/password/reset, the agent pages under
/agent/. tests/test_hard_edges.py walks them all anonymously."""

from django.urls import path

from flowdesk.web import articles, auth, bulk, customer, inbox, macros, presence, saved, ticket

app_name = "web"

urlpatterns = [
    path("login", auth.login_view, name="login"),
    path("logout", auth.logout_view, name="logout"),
    path("password/reset", auth.password_reset_view, name="password_reset"),
    path("password/reset/sent", auth.password_reset_sent_view, name="password_reset_sent"),
    path(
        "password/reset/<uidb64>/<token>",
        auth.password_reset_confirm_view,
        name="password_reset_confirm",
    ),
    path("password/reset/done", auth.password_reset_complete_view, name="password_reset_complete"),
    path("agent/", inbox.inbox, name="inbox"),
    path("agent/counts", inbox.inbox_counts, name="inbox_counts"),
    path("agent/bulk", bulk.bulk, name="bulk"),
    path("agent/views", saved.saved_views, name="saved_views"),
    path("agent/views/<int:view_id>/delete", saved.delete_saved_view, name="delete_saved_view"),
    path("agent/tickets/<int:ticket_id>", ticket.ticket_page, name="ticket"),
    path("agent/tickets/<int:ticket_id>/messages", ticket.add_message, name="add_message"),
    path("agent/tickets/<int:ticket_id>/fields", ticket.save_fields, name="save_fields"),
    path("agent/tickets/<int:ticket_id>/macros", macros.macro_picker, name="macros"),
    path(
        "agent/tickets/<int:ticket_id>/macros/<int:macro_id>/apply",
        macros.apply_macro,
        name="apply_macro",
    ),
    path("agent/tickets/<int:ticket_id>/articles", articles.article_search, name="articles"),
    path("agent/tickets/<int:ticket_id>/presence", presence.presence, name="presence"),
    path(
        "agent/tickets/<int:ticket_id>/explanation",
        ticket.explanation_page,
        name="explanation",
    ),
    *customer.urlpatterns,  # /agent/customers/<id> (docs/customers.md)
]
