"""Saved views of records (SPEC T-2): create, rename and delete a user's named record lists.

A name is required and unique per user and object type; the filter is checked by
crm.view_queries so a saved view always reopens. Nothing is changed when a view is refused.
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from crm.errors import SavedViewError
from crm.models import ObjectType, SavedView
from crm.view_queries import clean_view_query

MAX_NAME = SavedView._meta.get_field("name").max_length


def create_saved_view(*, owner, object_type: ObjectType, name: str, query: str) -> SavedView:
    """Save the record list's filter under a name of the owner's."""
    name = _clean_name(name, owner=owner, object_type=object_type)
    query = clean_view_query(object_type=object_type, query=query, user=owner)
    return _save(SavedView(owner=owner, object_type=object_type, name=name, query=query))


def rename_saved_view(*, view: SavedView, name: str, actor) -> SavedView:
    _check_owner(view, actor)
    view.name = _clean_name(name, owner=view.owner, object_type=view.object_type, exclude=view)
    return _save(view, update_fields=["name"])


def delete_saved_view(*, view: SavedView, actor) -> None:
    _check_owner(view, actor)
    view.delete()


def _check_owner(view: SavedView, actor) -> None:
    # A superuser may tidy up others' views: a saved view keeps its property from being deleted.
    if actor is None or (actor.pk != view.owner_id and not actor.is_superuser):
        raise SavedViewError("Only its owner can change or delete a saved view.")


def _clean_name(name: str, *, owner, object_type: ObjectType, exclude: SavedView | None = None):
    name = " ".join((name or "").split())
    if not name:
        raise SavedViewError("Give the view a name.")
    if len(name) > MAX_NAME:
        raise SavedViewError(f"A view's name has at most {MAX_NAME} characters.")
    taken = SavedView.objects.filter(owner=owner, object_type=object_type, name__iexact=name)
    if exclude is not None:
        taken = taken.exclude(pk=exclude.pk)
    if taken.exists():
        raise SavedViewError(
            f"You already have a view of {object_type.label_plural.lower()} named “{name}”."
        )
    return name


def _save(view: SavedView, **kwargs) -> SavedView:
    try:
        with transaction.atomic():
            view.save(**kwargs)
    except IntegrityError:  # the same name saved at the same moment by another request
        raise SavedViewError(f"You already have a view named “{view.name}”.") from None
    return view
