"""The Django admin at /studio/admin/ for the rarely edited directory: teams, agents,
customers, organizations and custom fields.

Who: admins only, by the User role (``User.is_admin``), never by ``is_staff`` or
``is_superuser`` (an agent with a stale staff flag gets nothing); anonymous users go to the
workspace's /login, signed-in non-admins get 403. The admin's own login form is never shown.

How: every add, change and delete goes through the same ``check_*`` services as the REST API
(validation, "renaming a team the rules name is refused", "the last admin stays"...). A refusal
is shown as an error message and nothing is written. Tickets, messages and events are not
registered: they have their own writers (``apply_change_set``, ``do_add_message``)."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.auth.views import redirect_to_login
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from flowdesk.accounts import services as people
from flowdesk.accounts.models import Organization, Role, Team, User
from flowdesk.core.errors import FlowdeskError
from flowdesk.studio.models import Agent, Customer
from flowdesk.tickets import fielddefs
from flowdesk.tickets.models import CustomFieldDef


def _is_admin(request: HttpRequest) -> bool:
    user = request.user
    return isinstance(user, User) and user.is_active and user.is_admin


class StudioAdminSite(admin.AdminSite):
    site_header = _("flowdesk · directory")
    site_title = _("flowdesk directory")
    index_title = _("Teams, people and custom fields")
    site_url = "/studio/"

    def has_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def login(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """No second sign-in form: the workspace's /login (with its failure limits) is the one."""
        if not request.user.is_authenticated:
            return redirect_to_login(request.GET.get("next") or self.site_url, settings.LOGIN_URL)
        if self.has_permission(request):
            return HttpResponseRedirect(request.GET.get("next") or "../")
        return render(
            request,
            "web/refused.html",
            {"message": gettext("The directory is for admins.")},
            status=403,
        )


site = StudioAdminSite(name="admin")
site.disable_action("delete_selected")  # a bulk delete would skip the services' checks


class ServiceAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Permissions by role; writes through ``create`` / ``update`` / ``remove`` (services)."""

    can_delete = True

    def has_module_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return _is_admin(request)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return _is_admin(request)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.can_delete and _is_admin(request)

    def create(self, data: dict[str, Any]) -> Model:
        raise NotImplementedError

    def update(self, obj: Any, data: dict[str, Any]) -> None:
        raise NotImplementedError

    def remove(self, obj: Any) -> None:
        raise NotImplementedError

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        if change:  # ``obj`` holds the form's values in memory only: the service gets the row
            self.update(type(obj)._default_manager.get(pk=obj.pk), form.cleaned_data)
        else:
            obj.pk = self.create(form.cleaned_data).pk

    def save_related(self, request: HttpRequest, form: Any, formsets: Any, change: bool) -> None:
        """Members and teams were written by the service with the rest."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        self.remove(obj)

    def delete_queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> None:
        for obj in queryset:
            self.remove(obj)

    def changeform_view(
        self,
        request: HttpRequest,
        object_id: str | None = None,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except FlowdeskError as exc:  # the transaction rolled back: nothing was written
            self.message_user(
                request, gettext("Not saved: %(error)s") % {"error": exc}, messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        try:
            return super().delete_view(request, object_id, extra_context)
        except FlowdeskError as exc:
            self.message_user(
                request, gettext("Not deleted: %(error)s") % {"error": exc}, messages.ERROR
            )
            return HttpResponseRedirect(request.get_full_path())


def _emails(users: Any) -> list[str]:
    return [u.email for u in users or []]


@admin.register(Team, site=site)
class TeamAdmin(ServiceAdmin):
    list_display = ("name", "description")
    search_fields = ("name",)
    filter_horizontal = ("members",)
    fields = ("name", "description", "members")

    def formfield_for_manytomany(self, db_field: Any, request: Any, **kwargs: Any) -> Any:
        if db_field.name == "members":
            kwargs["queryset"] = User.objects.filter(role__in=people.AGENT_ROLES).order_by("email")
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def create(self, data: dict[str, Any]) -> Model:
        return people.check_create_team(
            name=data["name"], description=data["description"], members=_emails(data["members"])
        )

    def update(self, obj: Team, data: dict[str, Any]) -> None:
        people.check_update_team(
            obj,
            name=data["name"],
            description=data["description"],
            members=_emails(data["members"]),
        )

    def remove(self, obj: Team) -> None:
        people.check_delete_team(obj)


@admin.register(Organization, site=site)
class OrganizationAdmin(ServiceAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    fields = ("name", "attributes")

    def create(self, data: dict[str, Any]) -> Model:
        return people.check_create_organization(name=data["name"], attributes=data["attributes"])

    def update(self, obj: Organization, data: dict[str, Any]) -> None:
        people.check_update_organization(obj, name=data["name"], attributes=data["attributes"])

    def remove(self, obj: Organization) -> None:
        people.check_delete_organization(obj)


class AgentForm(forms.ModelForm):  # type: ignore[type-arg]
    role = forms.ChoiceField(choices=[(Role.AGENT, "agent"), (Role.ADMIN, "admin")])
    teams = forms.ModelMultipleChoiceField(
        Team.objects.order_by("name"), required=False, widget=forms.CheckboxSelectMultiple
    )
    password = forms.CharField(
        required=False,
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "new-password"}),
        help_text=_("Only when adding; empty: the agent cannot sign in until a password is set."),
    )

    class Meta:
        model = Agent
        fields = ("email", "name", "role", "is_active")

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.pk:
            self.fields["teams"].initial = list(self.instance.teams.all())
            del self.fields["password"]


@admin.register(Agent, site=site)
class AgentAdmin(ServiceAdmin):
    """Users are never deleted (their history stays): deactivate them instead."""

    form = AgentForm
    can_delete = False
    list_display = ("email", "name", "role", "is_active")
    list_filter = ("role", "is_active")
    search_fields = ("email", "name")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(role__in=people.AGENT_ROLES)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return ("email", "name", "role", "teams", "password")
        return ("email", "name", "role", "teams", "is_active")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("email",) if obj is not None else ()

    def create(self, data: dict[str, Any]) -> Model:
        return people.check_create_agent(
            email=data["email"],
            name=data["name"],
            role=data["role"],
            teams=[t.name for t in data["teams"]],
            password=data.get("password") or None,
        )

    def update(self, obj: User, data: dict[str, Any]) -> None:
        people.check_update_agent(
            obj,
            name=data["name"],
            role=data["role"],
            teams=[t.name for t in data["teams"]],
            active=data["is_active"],
        )


@admin.register(Customer, site=site)
class CustomerAdmin(ServiceAdmin):
    can_delete = False
    list_display = ("email", "name", "organization", "is_active")
    list_filter = ("organization",)
    search_fields = ("email", "name")
    fields = ("email", "name", "organization", "attributes")

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(role=Role.CUSTOMER)

    def create(self, data: dict[str, Any]) -> Model:
        org = data["organization"]
        return people.check_create_customer(
            email=data["email"],
            name=data["name"],
            organization=org.name if org else None,
            attributes=data["attributes"],
        )

    def update(self, obj: User, data: dict[str, Any]) -> None:
        org = data["organization"]
        people.check_update_customer(
            obj,
            email=data["email"],
            name=data["name"],
            organization=org.name if org else None,
            clear_organization=org is None,
            attributes=data["attributes"],
        )


@admin.register(CustomFieldDef, site=site)
class CustomFieldAdmin(ServiceAdmin):
    list_display = ("key", "label", "kind")
    search_fields = ("key", "label")

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("key", "label", "kind", "choices")

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        return ("key", "kind") if obj is not None else ()  # fixed once created (as in the API)

    def create(self, data: dict[str, Any]) -> Model:
        return fielddefs.check_create_field_def(
            key=data["key"], label=data["label"], kind=data["kind"], choices=data["choices"]
        )

    def update(self, obj: CustomFieldDef, data: dict[str, Any]) -> None:
        fielddefs.check_update_field_def(obj, label=data["label"], choices=data["choices"])

    def remove(self, obj: CustomFieldDef) -> None:
        fielddefs.check_delete_field_def(obj)
