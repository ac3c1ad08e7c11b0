"""Which live subscription documents read nothing of the viewer.

A project's task event reaches every member's subscription. Executed once per member, its
cost grows with the members; for a document whose result is the same whoever runs it, one
execution's text can serve them all (gateway/shared_streams.py, `gateway_core.live.
SharedResults`). A result depends on the viewer through the fields that read the caller
(`info.context.user_id` or a loader answering in the caller's view): `Task.project` and
`Tag.project` (the project "as the caller sees it", their role in it), `Task.parent` (what the
caller may see), `Tag.openTaskCount` ("the caller's" open tasks).

The check fails closed: a document is shared only when every field it selects is in
VIEWER_INDEPENDENT, reached through it from `taskEvents`. A field added to the schema later, a
fragment on another type, a directive other than @include/@skip or anything unexpected keeps
the document executed per account, as before.
"""

from __future__ import annotations

from collections.abc import Mapping

from graphql import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationType,
    SelectionSetNode,
    get_operation_ast,
)

# Per type, the fields whose value is the same for every member of the task's project, and the
# type each leads to (None: a scalar or enum). Read from each resolver (graphql_schema/tasks/
# types.py, tags/types.py, projects/types.py): these read the event's snapshot, or loaders
# keyed by the task, tag or user id alone (tags, reminders, users, sections, subtasks).
VIEWER_INDEPENDENT: Mapping[str, Mapping[str, str | None]] = {
    "Subscription": {"taskEvents": "TaskEvent"},
    "TaskEvent": {
        "kind": None,
        "taskId": None,
        "task": "Task",
        "at": None,
        "source": None,
        "version": None,
    },
    "Task": {
        "id": None,
        "title": None,
        "notes": None,
        "status": None,
        "priority": None,
        "dueAt": None,
        "completedAt": None,
        "recurrence": "Recurrence",
        "seriesId": None,
        "createdAt": None,
        "updatedAt": None,
        "version": None,
        "tags": "Tag",
        "reminders": "Reminder",
        "assignee": "PublicUser",
        "createdBy": "PublicUser",
        "section": "Section",
        # A subtask lives in its parent's project: every member sees the same ones.
        "subtasks": "Task",
        "position": None,
    },
    "Recurrence": {
        "rule": None,
        "repeatFrom": None,
        "timezone": None,
        "skipped": None,
        "upcoming": None,
    },
    "Reminder": {
        "id": None,
        "remindAt": None,
        "beforeDue": None,
        "channels": None,
        "state": None,
        "sentAt": None,
    },
    "Tag": {"id": None, "name": None},
    "PublicUser": {"id": None, "email": None},
    "Section": {"id": None, "name": None, "position": None},
}
ROOT_TYPE = "Subscription"
# Directives that choose selections by the variables alone (which are part of the shared key).
NEUTRAL_DIRECTIVES = frozenset({"include", "skip"})
# Deeper selections are not looked into: the document is executed per account.
DEPTH_MAX = 16


def reads_viewer(document: DocumentNode, operation_name: str | None) -> bool:
    """Whether the operation's result may depend on who runs it: False only for a
    subscription every selection of which is known not to read the viewer."""
    try:
        operation = get_operation_ast(document, operation_name)
    except GraphQLError:
        return True
    if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
        return True
    fragments = {
        definition.name.value: definition
        for definition in document.definitions
        if isinstance(definition, FragmentDefinitionNode)
    }
    if len(fragments) != sum(
        isinstance(definition, FragmentDefinitionNode) for definition in document.definitions
    ):
        return True  # two fragments of one name: invalid, and not ours to pick
    return not _independent(operation.selection_set, ROOT_TYPE, fragments, frozenset(), 0)


def _independent(
    selections: SelectionSetNode,
    type_name: str,
    fragments: Mapping[str, FragmentDefinitionNode],
    spreading: frozenset[str],
    depth: int,
) -> bool:
    """Whether every selection in the set, read on `type_name`, is viewer-independent."""
    if depth > DEPTH_MAX:
        return False
    fields = VIEWER_INDEPENDENT.get(type_name)
    if fields is None:
        return False
    for selection in selections.selections:
        if any(d.name.value not in NEUTRAL_DIRECTIVES for d in selection.directives or ()):
            return False
        if isinstance(selection, FieldNode):
            name = selection.name.value
            if name == "__typename" and selection.selection_set is None:
                continue
            if name not in fields:
                return False
            leads_to = fields[name]
            if (leads_to is None) != (selection.selection_set is None):
                return False  # a leaf with a selection or an object without: invalid
            if (
                selection.selection_set is not None
                and leads_to is not None
                and not _independent(
                    selection.selection_set, leads_to, fragments, spreading, depth + 1
                )
            ):
                return False
        elif isinstance(selection, InlineFragmentNode):
            condition = selection.type_condition
            if condition is not None and condition.name.value != type_name:
                return False
            if not _independent(selection.selection_set, type_name, fragments, spreading, depth):
                return False
        elif isinstance(selection, FragmentSpreadNode):
            name = selection.name.value
            fragment = fragments.get(name)
            if fragment is None or name in spreading:
                return False
            if fragment.type_condition.name.value != type_name or fragment.directives:
                return False
            if not _independent(
                fragment.selection_set, type_name, fragments, spreading | {name}, depth + 1
            ):
                return False
        else:
            return False
    return True
