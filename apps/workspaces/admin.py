"""Django admin for staff: workspaces, members, invitations, routing indexes."""

from django.contrib import admin

from apps.workspaces.models import ApiKeyRoute, Domain, Invitation, Membership, SiteRoute, Workspace


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


class DomainInline(admin.TabularInline):
    model = Domain
    extra = 0


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "schema_name", "status", "member_count", "created_at", "provisioning_seconds"]
    list_filter = ["status", "created_at"]
    search_fields = ["name", "slug", "schema_name", "memberships__user__email"]
    readonly_fields = ["schema_name", "created_at", "provisioned_at", "provisioning_seconds"]
    inlines = [MembershipInline, DomainInline]

    @admin.display(description="members")
    def member_count(self, obj: Workspace) -> int:
        return obj.memberships.count()


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "workspace", "role", "created_at"]
    list_filter = ["role", "workspace"]
    search_fields = ["user__email", "user__name", "workspace__name", "workspace__slug"]
    autocomplete_fields = ["user", "workspace"]


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "workspace", "role", "status", "created_at", "expires_at", "email_sent_at"]
    list_filter = ["status", "role", "workspace"]
    search_fields = ["email", "workspace__name", "workspace__slug"]
    readonly_fields = ["created_at", "accepted_at", "email_sent_at"]


@admin.register(Domain)
class DomainAdmin(admin.ModelAdmin):
    list_display = ["domain", "tenant", "is_primary"]
    search_fields = ["domain", "tenant__name"]


@admin.register(ApiKeyRoute)
class ApiKeyRouteAdmin(admin.ModelAdmin):
    list_display = ["kind", "workspace", "app_id", "created_at"]
    list_filter = ["kind"]
    search_fields = ["workspace__name", "app_id"]
    readonly_fields = ["key_hash"]


@admin.register(SiteRoute)
class SiteRouteAdmin(admin.ModelAdmin):
    list_display = ["code", "workspace", "app_id", "created_at"]
    search_fields = ["code", "workspace__name"]
