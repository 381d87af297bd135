from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from flowdesk.api.main import api


def home(request: HttpRequest) -> HttpResponse:
    from flowdesk.web.home import home_page

    return home_page(request)


urlpatterns = [
    path("api/", api.urls),
    path("portal/", include("flowdesk.portal.urls")),
    path("", include("flowdesk.web.urls")),
    path("", home, name="home"),
]
