"""Records that are only ever added to: the audit trail and the controlled-drug register.

Saving an existing row, ``delete()``, and queryset ``update()``/``delete()`` all raise
``AppendOnlyError``; corrections are new rows. (The audit table is also protected by database
triggers, see audit/migrations/0002.)
"""

from __future__ import annotations

from typing import Any, ClassVar

from django.db import models


class AppendOnlyError(Exception):
    """Raised when code tries to change or delete an append-only record."""


def _refused(model: type[models.Model], what: str) -> AppendOnlyError:
    return AppendOnlyError(f"{model._meta.verbose_name_plural} are append-only: {what}")


class AppendOnlyQuerySet(models.QuerySet):
    def update(self, **kwargs: Any) -> int:
        raise _refused(self.model, "update() is not allowed")

    def delete(self) -> tuple[int, dict[str, int]]:
        raise _refused(self.model, "delete() is not allowed")


class AppendOnlyModel(models.Model):
    objects: ClassVar[AppendOnlyQuerySet] = AppendOnlyQuerySet.as_manager()  # type: ignore[assignment]

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not self._state.adding:
            raise _refused(type(self), "a saved row cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise _refused(type(self), "delete() is not allowed")
