"""Console views for the workspace: home, settings, members, invitations, switching."""

from django.contrib import messages
from django.contrib.auth import get_user_model, login
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from apps.logs import selectors as logs
from apps.workspaces import roles, services
from apps.workspaces.decorators import allow_provisioning, require_perm
from apps.workspaces.forms import AcceptInvitationForm, InviteForm, RoleForm, WorkspaceForm
from apps.workspaces.models import Invitation, Membership
from apps.workspaces.roles import Perm
from apps.workspaces.urlutils import ws_reverse

User = get_user_model()


def _first_error(exc: ValidationError) -> str:
    return exc.messages[0] if exc.messages else str(exc)


# --- Outside a workspace -------------------------------------------------------------------


@login_required
def console_index(request: HttpRequest) -> HttpResponse:
    """/console/: the last workspace used, else the first one, else "create a workspace"."""
    user = request.user
    membership = None
    if user.last_workspace_id:  # type: ignore[union-attr]
        membership = Membership.objects.filter(user=user, workspace_id=user.last_workspace_id).first()  # type: ignore[union-attr]
    membership = membership or Membership.objects.filter(user=user).order_by("created_at").first()
    if membership is None:
        return redirect("console:workspace_new")
    return redirect("console:home", ws=membership.workspace.slug)


@login_required
def workspace_new(request: HttpRequest) -> HttpResponse:
    """Any signed-in user may create another workspace and becomes its owner (WS-02)."""
    form = WorkspaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            workspace = services.workspace_create(
                name=form.cleaned_data["name"], owner=request.user, provision="async"
            )
        except ValidationError as exc:
            form.add_error("name", _first_error(exc))
        else:
            messages.success(request, _("Workspace “%(name)s” created.") % {"name": workspace.name})
            return redirect("console:home", ws=workspace.slug)
    return render(request, "workspaces/workspace_new.html", {"form": form})


# --- Inside a workspace (the middleware has checked membership) -----------------------------


@allow_provisioning
def preparing(request: HttpRequest) -> HttpResponse:
    """Shown while a new workspace's schema is being built; polls until it is ready."""
    workspace = request.tenant  # type: ignore[attr-defined]
    workspace.refresh_from_db(fields=["status"])
    if workspace.is_ready:
        target = ws_reverse(request, "console:home")
        if request.headers.get("HX-Request"):
            response = HttpResponse(status=204)
            response["HX-Redirect"] = target
            return response
        return redirect(target)
    template = "workspaces/_preparing_status.html" if request.headers.get("HX-Request") else "workspaces/preparing.html"
    return render(request, template, {"workspace": workspace})


def home(request: HttpRequest) -> HttpResponse:
    workspace = request.tenant  # type: ignore[attr-defined]
    members = Membership.objects.filter(workspace=workspace)
    role_counts = {role.value: 0 for role in roles.Role}
    for role in members.values_list("role", flat=True):
        role_counts[role] += 1
    return render(
        request,
        "workspaces/home.html",
        {
            "member_count": sum(role_counts.values()),
            "role_counts": [(roles.Role(r).label, n) for r, n in role_counts.items()],
            "pending_invitations": Invitation.objects.filter(
                workspace=workspace, status=Invitation.Status.PENDING
            ).count(),
            "activity": logs.activity_recent(limit=15),
        },
    )


@require_perm(Perm.WORKSPACE_SETTINGS)
def settings_general(request: HttpRequest) -> HttpResponse:
    workspace = request.tenant  # type: ignore[attr-defined]
    form = WorkspaceForm(request.POST or None, initial={"name": workspace.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.workspace_rename(workspace=workspace, name=form.cleaned_data["name"], actor=request.user)
        except ValidationError as exc:
            form.add_error("name", _first_error(exc))
        else:
            messages.success(request, _("Workspace renamed."))
            return redirect(ws_reverse(request, "console:settings"))
    return render(request, "workspaces/settings_general.html", {"form": form})


@require_perm(Perm.MEMBERS_VIEW)
def members(request: HttpRequest) -> HttpResponse:
    actor: Membership = request.membership  # type: ignore[attr-defined]
    assignable = roles.assignable_roles(actor.role)
    form = InviteForm(request.POST or None, roles=assignable)
    invite_url = None
    if request.method == "POST":
        if not roles.has_perm(actor.role, Perm.MEMBERS_MANAGE):
            raise PermissionDenied
        if form.is_valid():
            try:
                result = services.invitation_create(actor=actor, **form.cleaned_data)
            except ValidationError as exc:
                form.add_error("email", _first_error(exc))
            else:
                messages.success(
                    request, _("Invitation sent to %(email)s.") % {"email": result.invitation.email}
                )
                invite_url = result.url
                form = InviteForm(roles=assignable)
    member_rows = [
        {
            "membership": m,
            "assignable": [r for r in assignable if roles.can_assign(actor.role, m.role, r)]
            if m.pk != actor.pk
            else [],
            "removable": m.pk != actor.pk and roles.can_remove(actor.role, m.role),
        }
        for m in Membership.objects.filter(workspace=request.tenant).select_related("user")  # type: ignore[attr-defined]
    ]
    can_manage = roles.has_perm(actor.role, Perm.MEMBERS_MANAGE)
    pending = []
    if can_manage:
        pending = [
            {"invitation": inv, "url": services.invitation_url(inv)}
            for inv in Invitation.objects.filter(workspace=request.tenant, status=Invitation.Status.PENDING)  # type: ignore[attr-defined]
        ]
    return render(
        request,
        "workspaces/members.html",
        {
            "rows": member_rows,
            "form": form,
            "can_manage": can_manage,
            "pending": pending,
            "invite_url": invite_url,
            "matrix": [(perm.label, [roles.has_perm(r, perm) for r in roles.Role]) for perm in Perm],
            "all_roles": list(roles.Role),
        },
    )


@require_POST
@require_perm(Perm.MEMBERS_MANAGE)
def member_role(request: HttpRequest, member_id: int) -> HttpResponse:
    target = get_object_or_404(Membership, pk=member_id, workspace=request.tenant)  # type: ignore[attr-defined]
    form = RoleForm(request.POST)
    if not form.is_valid():
        raise PermissionDenied
    services.member_change_role(actor=request.membership, target=target, role=form.cleaned_data["role"])  # type: ignore[attr-defined]
    messages.success(request, _("Role updated for %(email)s.") % {"email": target.user.email})
    return redirect(ws_reverse(request, "console:members"))


@require_POST
@require_perm(Perm.MEMBERS_MANAGE)
def member_remove(request: HttpRequest, member_id: int) -> HttpResponse:
    target = get_object_or_404(Membership, pk=member_id, workspace=request.tenant)  # type: ignore[attr-defined]
    services.member_remove(actor=request.membership, target=target)  # type: ignore[attr-defined]
    messages.success(request, _("%(email)s was removed from the workspace.") % {"email": target.user.email})
    return redirect(ws_reverse(request, "console:members"))


@require_POST
@require_perm(Perm.MEMBERS_MANAGE)
def invitation_revoke(request: HttpRequest, invitation_id: str) -> HttpResponse:
    invitation = get_object_or_404(Invitation, pk=invitation_id, workspace=request.tenant)  # type: ignore[attr-defined]
    services.invitation_revoke(actor=request.membership, invitation=invitation)  # type: ignore[attr-defined]
    messages.success(request, _("Invitation revoked."))
    return redirect(ws_reverse(request, "console:members"))


# --- Accepting an invitation (public URL) --------------------------------------------------


def invitation_accept(request: HttpRequest, token: str) -> HttpResponse:
    """Open an invitation link: join with the current account, or create one with a password."""
    invitation = services.invitation_from_token(token)
    if invitation is None:
        return render(request, "workspaces/invitation_invalid.html", status=404)
    if not invitation.is_usable:
        return render(request, "workspaces/invitation_invalid.html", {"invitation": invitation}, status=410)

    user = request.user
    existing = User.objects.filter(email__iexact=invitation.email).first()
    if user.is_authenticated and user.email.lower() != invitation.email.lower():
        return render(request, "workspaces/invitation_wrong_account.html", {"invitation": invitation}, status=403)
    if not user.is_authenticated and existing is not None:
        messages.info(request, _("Sign in as %(email)s to accept the invitation.") % {"email": invitation.email})
        from django.contrib.auth.views import redirect_to_login

        return redirect_to_login(request.get_full_path())

    form = AcceptInvitationForm(request.POST or None) if not user.is_authenticated else None
    if request.method == "POST":
        if user.is_authenticated:
            services.invitation_accept(invitation=invitation, user=user)
        elif form is not None and form.is_valid():
            new_user = services.user_create(
                email=invitation.email, password=form.cleaned_data["password1"], name=form.cleaned_data["name"]
            )
            services.invitation_accept(invitation=invitation, user=new_user)
            login(request, new_user, backend="django.contrib.auth.backends.ModelBackend")
        else:
            return render(request, "workspaces/invitation_accept.html", {"invitation": invitation, "form": form})
        messages.success(request, _("Welcome to %(name)s.") % {"name": invitation.workspace.name})
        return redirect("console:home", ws=invitation.workspace.slug)
    return render(request, "workspaces/invitation_accept.html", {"invitation": invitation, "form": form})
