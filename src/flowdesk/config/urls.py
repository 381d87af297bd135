from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from flowdesk.api.main import api
from flowdesk.core.i18n import set_language
from flowdesk.studio.admin import site as studio_admin


def home(request: HttpRequest) -> HttpResponse:
    from flowdesk.web.home import home_page

    return home_page(request)


urlpatterns = [
    path("api/", api.urls),
    path("i18n/setlang/", set_language, name="set_language"),
    path("studio/admin/", studio_admin.urls),
    path("studio/", include("flowdesk.studio.urls")),
    path("portal/", include("flowdesk.portal.urls")),
    path("", include("flowdesk.chat.urls")),  # /chat/v1/ (the widget's), /agent/chats/
    path("", include("flowdesk.web.urls")),
    path("", home, name="home"),
]
