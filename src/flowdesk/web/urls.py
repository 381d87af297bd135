"""The workspace's routes: sign-in at /login, sign-out (POST) at /logout, the agent pages under
/agent/. tests/test_hard_edges.py walks them all anonymously."""

from django.urls import path

from flowdesk.web import auth, bulk, customer, inbox, presence, saved, ticket

app_name = "web"

urlpatterns = [
    path("login", auth.login_view, name="login"),
    path("logout", auth.logout_view, name="logout"),
    path("agent/", inbox.inbox, name="inbox"),
    path("agent/bulk", bulk.bulk, name="bulk"),
    path("agent/views", saved.saved_views, name="saved_views"),
    path("agent/views/<int:view_id>/delete", saved.delete_saved_view, name="delete_saved_view"),
    path("agent/tickets/<int:ticket_id>", ticket.ticket_page, name="ticket"),
    path("agent/tickets/<int:ticket_id>/messages", ticket.add_message, name="add_message"),
    path("agent/tickets/<int:ticket_id>/fields", ticket.save_fields, name="save_fields"),
    path("agent/tickets/<int:ticket_id>/presence", presence.presence, name="presence"),
    path(
        "agent/tickets/<int:ticket_id>/explanation",
        ticket.explanation_page,
        name="explanation",
    ),
    *customer.urlpatterns,  # /agent/customers/<id> (docs/customers.md)
]
