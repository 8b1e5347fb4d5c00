"""rotate_encryption_keys: re-encrypt every workspace's provider credentials under the newest key.

Put the new key first in ENCRYPTION_KEYS (keep the old ones after it), run this, then drop the old
keys from ENCRYPTION_KEYS.
"""

from typing import Any

from django.core.management.base import BaseCommand
from django.db import transaction
from django_tenants.utils import schema_context

from apps.providers import services
from apps.workspaces.models import Workspace


class Command(BaseCommand):
    help = "Re-encrypt all provider credentials with the first key of ENCRYPTION_KEYS."

    def handle(self, *args: Any, **opts: Any) -> None:
        total = 0
        for workspace in Workspace.objects.filter(status=Workspace.Status.READY).order_by("pk"):
            with schema_context(workspace.schema_name), transaction.atomic():
                count = services.credentials_rotate()
            total += count
            if count:
                self.stdout.write(f"{workspace.slug}: {count} credential(s) re-encrypted")
        self.stdout.write(f"done: {total} credential(s)")
