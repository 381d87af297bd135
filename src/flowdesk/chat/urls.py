"""The chat's routes: the visitor endpoints under /chat/v1/<site key>/ (public, token-checked)
and the agent console under /agent/chats/ (the workspace's sign-in and access checks)."""

from django.urls import path

from flowdesk.chat import api, console, streams

app_name = "chat"

_V = "chat/v1/<str:site_key>/"

urlpatterns = [
    path(_V + "config", api.config, name="config"),
    path(_V + "conversations", api.start, name="start"),
    path(_V + "conversation", api.conversation_state, name="conversation"),
    path(_V + "messages", api.send, name="send"),
    path(_V + "events", api.poll, name="events"),
    path(_V + "stream", streams.visitor_stream, name="visitor_stream"),
    path(_V + "typing", api.typing, name="typing"),
    path(_V + "seen", api.seen, name="seen"),
    path(_V + "end", api.end, name="end"),
    path("agent/chats/", console.console, name="console"),
    path("agent/chats/list", console.chat_list, name="list"),
    path("agent/chats/try", console.try_widget, name="try"),
    path("agent/chats/events", console.chats_events, name="events"),
    path("agent/chats/stream", streams.agent_stream, name="stream"),
    path("agent/chats/<int:chat_id>", console.console, name="chat"),
    path("agent/chats/<int:chat_id>/events", console.chat_events, name="chat_events"),
    path("agent/chats/<int:chat_id>/messages", console.chat_send, name="chat_send"),
    path("agent/chats/<int:chat_id>/typing", console.chat_typing, name="chat_typing"),
    path("agent/chats/<int:chat_id>/seen", console.chat_seen, name="chat_seen"),
    path("agent/chats/<int:chat_id>/end", console.chat_end, name="chat_end"),
]
