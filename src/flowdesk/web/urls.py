"""The workspace's routes: sign-in at /login, sign-out (POST) at /logout, the agent pages under
/agent/. tests/test_hard_edges.py walks them all anonymously."""

from django.urls import path

from flowdesk.web import auth, inbox, ticket

app_name = "web"

urlpatterns = [
    path("login", auth.login_view, name="login"),
    path("logout", auth.logout_view, name="logout"),
    path("agent/", inbox.inbox, name="inbox"),
    path("agent/tickets/<int:ticket_id>", ticket.ticket_page, name="ticket"),
    path("agent/tickets/<int:ticket_id>/messages", ticket.add_message, name="add_message"),
    path("agent/tickets/<int:ticket_id>/fields", ticket.save_fields, name="save_fields"),
    path(
        "agent/tickets/<int:ticket_id>/explanation",
        ticket.explanation_page,
        name="explanation",
    ),
]
