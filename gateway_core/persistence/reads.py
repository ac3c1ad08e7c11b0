"""The read side: task pages with filters, search, ordering and keyset cursors; batch loads."""

from __future__ import annotations

import enum
import functools
import re
import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    ColumnElement,
    Float,
    and_,
    any_,
    bindparam,
    case,
    cast,
    exists,
    false,
    func,
    literal,
    literal_column,
    or_,
    select,
    true,
    tuple_,
    union_all,
)
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import CompoundSelect, Select

from contracts.task import Task as WireTask
from contracts.task import recurrence_from_json
from gateway_core.domain.model import (
    Priority,
    Reminder,
    Task,
    TaskStatus,
    clean_tag_name,
    tag_key,
)
from gateway_core.persistence import tables as t
from gateway_core.persistence.repositories import reminder_from_row
from taskstream.errors import InvalidInput
from taskstream.persistence.cursors import Kind, decode_typed_cursor, encode_cursor
from taskstream.recurrence import Recurrence

PAGE_MAX = 200
SEARCH_TEXT_MAX = 200
SEARCH_WORDS_MAX = 8
# Candidate recall for typo matching; the exact edit distance is checked afterwards.
TYPO_CANDIDATE_THRESHOLD = "0.3"
# At most this many words of the user's vocabulary stand in for one search word with a typo (the
# closest first): each becomes a term of the full-text query.
TYPO_WORDS_MAX = 50
_WORD = re.compile(r"[^\W_]+", re.UNICODE)


class SortField(enum.Enum):
    """Fields a task list can be ordered by."""

    DUE_AT = "DUE_AT"
    PRIORITY = "PRIORITY"
    CREATED_AT = "CREATED_AT"
    UPDATED_AT = "UPDATED_AT"
    TITLE = "TITLE"
    RELEVANCE = "RELEVANCE"
    MANUAL = "MANUAL"


DEFAULT_ORDER: tuple[tuple[SortField, bool], ...] = (
    (SortField.DUE_AT, False),
    (SortField.CREATED_AT, False),
)


@dataclass(frozen=True, slots=True)
class TaskRecord:
    """A task row as the API reads it; tags and reminders are loaded in batches."""

    id: uuid.UUID
    user_id: uuid.UUID
    title: str
    notes: str
    status: TaskStatus
    priority: Priority
    due_at: datetime | None
    completed_at: datetime | None
    recurrence: Recurrence | None
    series_id: uuid.UUID | None
    created_at: datetime
    updated_at: datetime
    version: int
    # None: the owner's personal space.
    project_id: uuid.UUID | None = None
    # None: unassigned.
    assignee_id: uuid.UUID | None = None
    # Structure: section, parent and position among siblings ("" when an event had none).
    section_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    position: str = ""

    @classmethod
    def from_row(cls, row: Any) -> TaskRecord:
        """A record from a `tasks` row."""
        return cls(
            id=row.id,
            user_id=row.user_id,
            title=row.title,
            notes=row.notes,
            status=TaskStatus(row.status),
            priority=Priority(row.priority),
            due_at=row.due_at,
            completed_at=row.completed_at,
            recurrence=recurrence_from_json(row.recurrence),
            series_id=row.series_id,
            created_at=row.created_at,
            updated_at=row.updated_at,
            version=row.version,
            project_id=row.project_id,
            assignee_id=row.assignee_id,
            section_id=row.section_id,
            parent_id=row.parent_id,
            position=row.position,
        )

    @classmethod
    def from_wire(cls, task: WireTask) -> TaskRecord:
        """A record from the task an event carries (contracts.task.Task)."""
        return cls(
            id=task.id,
            user_id=task.user_id,
            title=task.title,
            notes=task.notes,
            status=TaskStatus(task.status),
            priority=Priority[task.priority],
            due_at=task.due_at,
            completed_at=task.completed_at,
            recurrence=None if task.recurrence is None else task.recurrence.to_rule(),
            series_id=task.series_id,
            created_at=task.created_at,
            updated_at=task.updated_at,
            version=task.version,
            project_id=task.project_id,
            assignee_id=task.assignee_id,
            section_id=task.section_id,
            parent_id=task.parent_id,
            position=task.position or "",
        )

    @classmethod
    def from_task(cls, task: Task) -> TaskRecord:
        """A record of an aggregate just written."""
        return cls(
            id=task.id,
            user_id=task.user_id,
            title=task.title,
            notes=task.notes,
            status=task.status,
            priority=task.priority,
            due_at=task.due_at,
            completed_at=task.completed_at,
            recurrence=task.recurrence,
            series_id=task.series_id,
            created_at=task.created_at,
            updated_at=task.updated_at,
            version=task.version,
            project_id=task.project_id,
            assignee_id=task.assignee_id,
            section_id=task.section_id,
            parent_id=task.parent_id,
            position=task.position,
        )


@dataclass(frozen=True, slots=True)
class TagRecord:
    """A tag as the API reads it."""

    id: uuid.UUID
    name: str
    # None: a personal tag; else the project whose tag set holds it.
    project_id: uuid.UUID | None = None


@dataclass(frozen=True, slots=True)
class TaskQuery:
    """Filters of a task list; all given ones must hold."""

    text: str | None = None
    status: TaskStatus | None = None
    priorities: Sequence[Priority] | None = None
    any_tags: Sequence[str] | None = None
    all_tags: Sequence[str] | None = None
    due_from: datetime | None = None
    due_to: datetime | None = None
    overdue: bool | None = None
    recurring: bool | None = None
    series_id: uuid.UUID | None = None
    # Only the tasks of this project (the caller must be a member: checked by the caller).
    project_id: uuid.UUID | None = None
    # True: only the personal space; False: only projects.
    inbox: bool | None = None
    # Only the tasks assigned to this user (among those the caller can see).
    assignee_id: uuid.UUID | None = None
    # True: only the tasks assigned to the caller; False: only those that are not.
    assigned_to_me: bool | None = None
    # Structure: one section's tasks, one task's subtasks, only (or no) top-level tasks.
    section_id: uuid.UUID | None = None
    parent_id: uuid.UUID | None = None
    top_level: bool | None = None


@dataclass(slots=True)
class TaskPage:
    """One page of tasks with the cursor of each and whether more follow."""

    records: list[TaskRecord]
    cursors: list[str]
    has_next_page: bool
    query: TaskQuery = field(repr=False, default_factory=TaskQuery)


def search_words(text: str | None) -> list[str]:
    """The words of a search text, lower-cased, at most SEARCH_WORDS_MAX of them."""
    if text is None:
        return []
    if len(text) > SEARCH_TEXT_MAX:
        raise InvalidInput("filter.text", f"must be at most {SEARCH_TEXT_MAX} characters")
    words = [w.lower() for w in _WORD.findall(text)]
    if len(words) > SEARCH_WORDS_MAX:
        raise InvalidInput("filter.text", f"may contain at most {SEARCH_WORDS_MAX} words")
    return words


def _typo_budget(word: str) -> int:
    """How many edits a word may be off by: none when short, one or two when longer."""
    if len(word) >= 8:
        return 2
    if len(word) >= 5:
        return 1
    return 0


# Words of the user's tasks close to each search word (see `close_words`); a word with no typo
# budget, or none close, is matched by prefix only.
CloseWords = dict[str, list[str]]


async def close_words(
    connection: AsyncConnection, user_id: uuid.UUID, words: Sequence[str]
) -> CloseWords:
    """For each search word that may carry a typo, the words of the user's tasks within its edit
    budget (at most TYPO_WORDS_MAX, closest first), from the user's search vocabulary.

    The vocabulary is small next to the tasks, so this costs the same over 100 or 1M tasks, and
    only words of plausible length (the search word's length plus or minus the budget) get an
    edit distance: a word longer than levenshtein's 255 characters never reaches it.
    """
    typos = [word for word in dict.fromkeys(words) if _typo_budget(word) > 0]
    await _search_settings(connection, typos=bool(typos))
    if not typos:
        return {}
    # One statement for all the words (a search has at most SEARCH_WORDS_MAX).
    lookups = _close_words_statement(tuple(typos))
    # A UNION keeps no order: sort each word's list again (closest first).
    found_rows = await connection.execute(lookups, {"close_user_id": user_id})
    rows = sorted(found_rows.all(), key=lambda row: (row[2], row[1]))
    found: CloseWords = {word: [] for word in typos}
    for searched, close, _ in rows:
        found[searched].append(close)
    return found


@functools.lru_cache(maxsize=256)
def _close_words_statement(typos: tuple[str, ...]) -> CompoundSelect[Any]:
    """The lookup of close words for these search words, for any user (:close_user_id). Kept:
    building it cost a search request more than running it (issue-16 notes)."""
    return union_all(*(_close_words_of(word).subquery().select() for word in typos))


def _close_words_of(word: str) -> Select[Any]:
    """The user's (:close_user_id) words close to one search word, closest first, labelled
    with the word."""
    budget = _typo_budget(word)
    vocabulary = t.search_words.c.word
    user = bindparam("close_user_id", type_=t.search_words.c.user_id.type)
    plausible = func.length(vocabulary).between(len(word) - budget, len(word) + budget)
    # CASE, not AND: PostgreSQL may evaluate AND's operands in any order.
    distance = case(
        (plausible, func.levenshtein_less_equal(vocabulary, literal(word), budget)),
        else_=budget + 1,
    )
    has_piece = or_(*(func.strpos(vocabulary, literal(p)) > 0 for p in typo_pieces(word)))
    return (
        select(literal(word).label("searched"), vocabulary.label("close"), distance.label("edits"))
        .where(
            t.search_words.c.user_id == user,
            literal(word).op("<%")(vocabulary),
            plausible,
            has_piece,
            distance <= budget,
        )
        .order_by(distance, vocabulary)
        .limit(TYPO_WORDS_MAX)
    )


def _word_matches(word: str, close: CloseWords) -> ColumnElement[bool]:
    """The search word as a prefix, or one of the user's words within its typo budget, through
    the full-text index: one condition whose selectivity the planner can estimate."""
    terms = [_ts_lexeme(word) + ":*", *(_ts_lexeme(other) for other in close.get(word, ()))]
    query = func.to_tsquery("simple", literal(" | ".join(terms)))
    return t.tasks.c.search_vector.op("@@")(query)


def typo_pieces(word: str) -> list[str]:
    """Budget + 1 disjoint pieces of the word, one of which every close enough word contains
    (a cheap test `close_words` makes before the edit distance).

    Pigeonhole: each of at most `budget` edits (insert, delete, substitute) touches at most one
    piece, so a word within the edit distance keeps at least one piece intact.
    """
    count = _typo_budget(word) + 1
    size, extra = divmod(len(word), count)
    pieces, start = [], 0
    for index in range(count):
        end = start + size + (1 if index < extra else 0)
        pieces.append(word[start:end])
        start = end
    return pieces


def _ts_lexeme(word: str) -> str:
    """A word quoted for to_tsquery, so that no character acts as an operator."""
    return "'" + word.replace("'", "''").replace("\\", "\\\\") + "'"


def _relevance(words: list[str]) -> ColumnElement[float]:
    # Ranked by the words as typed (typo matches rank after them) and from the search vector
    # only: a task's rank never depends on the vocabulary, which grows between pages, and never
    # reads the task's text, which may be 20,000 characters.
    query = func.to_tsquery("simple", literal(" | ".join(_ts_lexeme(w) + ":*" for w in words)))
    score: ColumnElement[Any] = cast(func.ts_rank(t.tasks.c.search_vector, query), Float)
    return score


def _tag_keys(names: Sequence[str], field_name: str) -> list[str]:
    return [tag_key(clean_tag_name(n, field_name=field_name)) for n in names]


def _tagged(user_id: uuid.UUID, keys: list[str], *, every: bool) -> ColumnElement[bool]:
    """Tasks carrying any (or every) tag of `keys`, as one semi-join over the named tags.

    One EXISTS per name made the planner's join search grow with the number of names (500
    names took one backend to 23 GB); one set of the named tags' links stays one small plan
    (a hash semi-join) whatever the count.
    """
    wanted = sorted(set(keys))
    # The names in every scope the user sees: their personal tags and their projects' sets.
    carrying = (
        select(t.task_tags.c.task_id)
        .select_from(t.task_tags.join(t.tags, t.tags.c.id == t.task_tags.c.tag_id))
        .where(
            or_(t.tags.c.user_id == user_id, in_member_projects(t.tags.c.project_id, user_id)),
            t.tags.c.name_key.in_(wanted),
        )
    )
    if every:
        carrying = carrying.group_by(t.task_tags.c.task_id).having(func.count() == len(wanted))
    return t.tasks.c.id.in_(carrying)


def tags_can_match(
    query: TaskQuery, tags_of_scope: ColumnElement[bool]
) -> list[ColumnElement[bool]]:
    """Conditions that hold unless the query's tag filter names no tag of this scope.

    A task carries the tags of its own scope (its owner's, or its project's set), so a scope
    without any named tag (every named tag, for allTags) has no match, which PostgreSQL cannot
    know when it plans a page: a page walks its index in order and tests each task for the tags,
    so the personal page of a member filtering by a project's tag tested all 700,000 personal
    tasks (5 s). Tested first, once per scope, such a page is not read at all.
    """
    gates: list[ColumnElement[bool]] = []
    if query.any_tags:
        keys = sorted(set(_tag_keys(query.any_tags, "filter.anyTags")))
        gates.append(exists().where(tags_of_scope, t.tags.c.name_key.in_(keys)))
    if query.all_tags:
        keys = sorted(set(_tag_keys(query.all_tags, "filter.allTags")))
        named = select(func.count()).where(tags_of_scope, t.tags.c.name_key.in_(keys))
        gates.append(named.scalar_subquery() == len(keys))
    return gates


def in_member_projects(column: ColumnElement[Any], user_id: uuid.UUID) -> ColumnElement[bool]:
    """`column` is one of the projects the user belongs to.

    As `= ANY(ARRAY(subquery))`: PostgreSQL reads the user's projects once (an InitPlan) and
    looks their rows up in the index by those ids. An `IN (subquery)` beside an OR became a
    hashed filter over every project's rows of the whole database: the count of a user who
    belongs to no project read all 305,000 project tasks (141 ms; 22 ms with the array).
    """
    projects = select(t.project_members.c.project_id).where(t.project_members.c.user_id == user_id)
    return column == any_(func.array(projects.scalar_subquery()))


def visible_scopes(user_id: uuid.UUID) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """The two disjoint parts of what the user can see: their personal space, and the tasks
    of every project they belong to."""
    return (
        and_(t.tasks.c.user_id == user_id, t.tasks.c.project_id.is_(None)),
        # IS NOT NULL, implied by the ANY, said so that indexes on project tasks only can serve.
        and_(t.tasks.c.project_id.is_not(None), in_member_projects(t.tasks.c.project_id, user_id)),
    )


def visible_to(user_id: uuid.UUID) -> ColumnElement[bool]:
    """Tasks the user can see: their personal space and every project they belong to."""
    return or_(*visible_scopes(user_id))


def reached_scopes(query: TaskQuery) -> tuple[bool, bool]:
    """Whether the query can reach the personal space, and the user's projects."""
    if query.inbox is True:
        return True, False
    if query.inbox is False or query.project_id is not None:
        return False, True
    return True, True


def filter_conditions(
    user_id: uuid.UUID, query: TaskQuery, *, now: datetime, close: CloseWords | None = None
) -> list[ColumnElement[bool]]:
    """SQL conditions of the query for the user's tasks (``close``: see `close_words`)."""
    return [visible_to(user_id), *query_conditions(user_id, query, now=now, close=close)]


def query_conditions(
    user_id: uuid.UUID, query: TaskQuery, *, now: datetime, close: CloseWords | None = None
) -> list[ColumnElement[bool]]:
    """The query's own conditions, visibility aside (``close``: see `close_words`)."""
    conditions: list[ColumnElement[bool]] = []
    if query.project_id is not None:
        conditions.append(t.tasks.c.project_id == query.project_id)
    if query.inbox is True:
        # The user's own: implied by visibility, said here so an index on user_id can serve.
        conditions += [t.tasks.c.project_id.is_(None), t.tasks.c.user_id == user_id]
    elif query.inbox is False:
        conditions.append(t.tasks.c.project_id.is_not(None))
    if query.assignee_id is not None:
        conditions.append(t.tasks.c.assignee_id == query.assignee_id)
    if query.assigned_to_me is True:
        conditions.append(t.tasks.c.assignee_id == user_id)
    elif query.assigned_to_me is False:
        conditions.append(t.tasks.c.assignee_id.is_distinct_from(user_id))
    if query.section_id is not None:
        conditions.append(t.tasks.c.section_id == query.section_id)
    if query.parent_id is not None:
        conditions.append(t.tasks.c.parent_id == query.parent_id)
    if query.top_level is True:
        conditions.append(t.tasks.c.parent_id.is_(None))
    elif query.top_level is False:
        conditions.append(t.tasks.c.parent_id.is_not(None))
    for word in search_words(query.text):
        conditions.append(_word_matches(word, close or {}))
    if query.status is not None:
        conditions.append(t.tasks.c.status == query.status.value)
    if query.priorities is not None:
        conditions.append(t.tasks.c.priority.in_([int(p) for p in query.priorities]))
    if query.any_tags is not None:
        keys = _tag_keys(query.any_tags, "filter.anyTags")
        conditions.append(_tagged(user_id, keys, every=False) if keys else false())
    if query.all_tags:
        keys = _tag_keys(query.all_tags, "filter.allTags")
        conditions.append(_tagged(user_id, keys, every=True))
    if query.due_from is not None and query.due_to is not None and query.due_from > query.due_to:
        raise InvalidInput("filter.dueFrom", "must not be after filter.dueTo")
    # Each bound also on the indexed key of the due order (undated last), which it implies:
    # an index in that order then starts at the first due date of the range, where a page
    # (the calendar's month) walked the member's 390,000 earlier tasks to get there (700 ms).
    if query.due_from is not None:
        conditions += [t.tasks.c.due_at >= query.due_from, _due_key(UNDATED_LAST) >= query.due_from]
    if query.due_to is not None:
        conditions += [t.tasks.c.due_at <= query.due_to, _due_key(UNDATED_LAST) <= query.due_to]
    overdue = and_(t.tasks.c.status == TaskStatus.OPEN.value, t.tasks.c.due_at < now)
    if query.overdue is True:
        conditions.append(overdue)
    elif query.overdue is False:
        conditions.append(~func.coalesce(overdue, false()))
    if query.series_id is not None:
        conditions.append(t.tasks.c.series_id == query.series_id)
    if query.recurring is not None:
        recurring = t.tasks.c.recurrence.is_not(None)
        conditions.append(recurring if query.recurring else ~recurring)
    return conditions


@dataclass(frozen=True, slots=True)
class _Key:
    expression: ColumnElement[Any]
    descending: bool
    kind: Kind  # how the cursor stores the value, and the range it must be in
    # For a nullable column ordered by a coalesce: the SQL literal standing in for NULL.
    null_as: str | None = None


# What an undated task's due date counts as in the ascending due order (the indexes' key).
UNDATED_LAST = "'infinity'::timestamptz"


def _due_key(stand_in: str) -> ColumnElement[Any]:
    """The due date, with `stand_in` (SQL) for undated tasks: a sort key of the due order."""
    return func.coalesce(t.tasks.c.due_at, literal_column(stand_in))


def _sort_keys(order: Sequence[tuple[SortField, bool]], words: list[str]) -> tuple[list[_Key], str]:
    keys: list[_Key] = []
    for sort_field, descending in order:
        if sort_field is SortField.DUE_AT:
            # Undated tasks come last in either direction.
            stand_in = "'-infinity'::timestamptz" if descending else UNDATED_LAST
            keys.append(_Key(_due_key(stand_in), descending, "time", stand_in))
        elif sort_field is SortField.PRIORITY:
            keys.append(_Key(t.tasks.c.priority, descending, "smallint"))
        elif sort_field is SortField.CREATED_AT:
            keys.append(_Key(t.tasks.c.created_at, descending, "time"))
        elif sort_field is SortField.UPDATED_AT:
            keys.append(_Key(t.tasks.c.updated_at, descending, "time"))
        elif sort_field is SortField.TITLE:
            keys.append(_Key(func.lower(t.tasks.c.title), descending, "text"))
        elif sort_field is SortField.MANUAL:
            # Positions order siblings; across lists they interleave (filter to one list).
            keys.append(_Key(t.tasks.c.position, descending, "text"))
        else:
            if not words:
                raise InvalidInput("orderBy", "RELEVANCE ordering needs a filter.text to rank by")
            keys.append(_Key(_relevance(words), descending, "float"))
    # Ties break by id in the direction of the last key, so that an order of one direction
    # is one direction throughout: an index read backwards serves it, where an ascending id
    # under PRIORITY descending sorted the 200,000 tasks of the top priority (800 ms).
    ties_descending = bool(order) and order[-1][1]
    keys.append(_Key(t.tasks.c.id, ties_descending, "uuid"))
    signature = ",".join(f"{f.value}:{'D' if d else 'A'}" for f, d in order)
    # Cursors made when ties always ascended are refused for the orders whose ties now descend
    # (read with the new order they would repeat or skip tied tasks).
    signature += ",ID:D" if ties_descending else ""
    return keys, signature + "|" + " ".join(words)


def _bind(key: _Key, value: Any) -> ColumnElement[Any]:
    if value is None and key.null_as is not None:
        return literal_column(key.null_as)
    return literal(value, key.expression.type)


def _after(keys: list[_Key], values: list[Any]) -> ColumnElement[bool]:
    """Rows strictly after the cursor's row in this ordering."""
    if all(k.descending == keys[0].descending for k in keys):
        left = tuple_(*(k.expression for k in keys))
        right = tuple_(*(_bind(k, v) for k, v in zip(keys, values, strict=True)))
        return left < right if keys[0].descending else left > right
    clauses = []
    for index, key in enumerate(keys):
        equal = [keys[i].expression == _bind(keys[i], values[i]) for i in range(index)]
        bound = _bind(key, values[index])
        step = key.expression < bound if key.descending else key.expression > bound
        clauses.append(and_(*equal, step))
    return or_(*clauses)


@dataclass(frozen=True, slots=True)
class PageStatement:
    """The SQL of one page of tasks, and the ordering keys its cursors are made of."""

    statement: Select[Any]
    keys: list[_Key]
    signature: str


def page_statement(
    *,
    user_id: uuid.UUID,
    query: TaskQuery,
    order: Sequence[tuple[SortField, bool]] | None,
    first: int,
    after: str | None,
    now: datetime,
    close: CloseWords,
) -> PageStatement:
    """The statement `task_page` runs (the benchmarks EXPLAIN the very same SQL)."""
    words = search_words(query.text)
    keys, signature = _sort_keys(order or DEFAULT_ORDER, words)
    conditions = query_conditions(user_id, query, now=now, close=close)
    if after is not None:
        values = decode_typed_cursor(
            after, signature, [(k.kind, k.null_as is not None) for k in keys]
        )
        conditions.append(_after(keys, values))
    key_columns = [k.expression.label(f"k{i}") for i, k in enumerate(keys)]

    def ordered(columns: Sequence[Any]) -> list[Any]:
        return [c.desc() if k.descending else c.asc() for c, k in zip(columns, keys, strict=True)]

    def first_of(*scope: ColumnElement[bool]) -> Select[Any]:
        return (
            select(t.tasks, *key_columns)
            .where(*scope, *conditions)
            .order_by(*ordered([k.expression for k in keys]))
            .limit(first + 1)
        )

    # One page per scope, then the first of them: with the scopes OR-ed in one WHERE no index
    # can give the order, and a page read a whole table's worth of the user's rows to sort
    # them (a sequential scan of every task at 1M). Each scope's own page can walk its index.
    personal, projects = visible_scopes(user_id)
    reaches_personal, reaches_projects = reached_scopes(query)
    pages = []
    if reaches_personal:
        personal_tags = and_(t.tags.c.user_id == user_id, t.tags.c.project_id.is_(None))
        pages.append(first_of(personal, *tags_can_match(query, personal_tags)))
    if reaches_projects and query.project_id is None and _project_index_holds(query, order, words):
        pages.append(_first_of_each_project(user_id, query, first_of))
    elif reaches_projects:
        # One project; a search (its own indexes find its rows across projects: a walk per
        # project read every project's index to its end when the word was rare); or an order
        # no project index holds (each project would sort its own tasks: all of them again).
        # Over several projects the tag gate can only say that none has a named tag.
        projects_tags = (
            t.tags.c.project_id == query.project_id
            if query.project_id is not None
            else in_member_projects(t.tags.c.project_id, user_id)
        )
        pages.append(first_of(projects, *tags_can_match(query, projects_tags)))
    # A query confined to one scope (inbox, projectId) reads that scope's page alone.
    both = (union_all(*pages) if len(pages) > 1 else pages[0]).subquery("visible")
    statement: Select[Any] = (
        select(both)
        # The keys by their output names: `both.c` would make a proxy of every column of
        # the union per request (a third of building the statement), to render the same.
        .order_by(*ordered([literal_column(f"k{i}") for i in range(len(keys))]))
        .limit(first + 1)
    )
    return PageStatement(statement, keys, signature)


# Orders of one field that a project index holds for the tasks of one status (gateway_0016).
PROJECT_INDEXED_ORDERS = frozenset(
    (SortField.PRIORITY, SortField.CREATED_AT, SortField.UPDATED_AT, SortField.TITLE)
)


def _project_index_holds(
    query: TaskQuery, order: Sequence[tuple[SortField, bool]] | None, words: list[str]
) -> bool:
    """Whether an index of project tasks gives the query's order, ties included (no search:
    a search's order is its own, and its own indexes find its rows across projects)."""
    if words:
        return False
    if order is None or tuple(order) == DEFAULT_ORDER:
        return True
    return query.status is not None and len(order) == 1 and order[0][0] in PROJECT_INDEXED_ORDERS


def _first_of_each_project(
    user_id: uuid.UUID, query: TaskQuery, first_of: Callable[..., Select[Any]]
) -> Select[Any]:
    """The first page of each of the user's projects (LATERAL), for the page to merge.

    One page over all the user's projects sorted every matching task of them (a member of 91
    projects: 184,000 open tasks for the first 50, 143 ms); each project's own page walks that
    project's index in the page's order (tasks_project_page_due for the default order, the
    indexes of gateway_0016 for the others) and stops at the page's size (9 ms). A filter
    rarer than PostgreSQL expects makes the walks longer: 1,000 urgent tasks among 305,000, in
    a few projects, took 226 ms where the one sort took 26 ms.
    """
    member = t.project_members
    in_project = (
        first_of(t.tasks.c.project_id.is_not(None), t.tasks.c.project_id == member.c.project_id)
        .correlate(member)
        .lateral("in_project")
    )
    # Projects without the named tags are left out before their page is read.
    project_tags = t.tags.c.project_id == member.c.project_id
    return (
        select(in_project)
        .select_from(member.join(in_project, true()))
        .where(member.c.user_id == user_id, *tags_can_match(query, project_tags))
    )


async def task_page(
    connection: AsyncConnection,
    *,
    user_id: uuid.UUID,
    query: TaskQuery,
    order: Sequence[tuple[SortField, bool]] | None,
    first: int,
    after: str | None,
    now: datetime,
) -> TaskPage:
    """One page of the user's tasks matching the query, after the given cursor."""
    if not 1 <= first <= PAGE_MAX:
        raise InvalidInput("first", f"must be 1 to {PAGE_MAX}")
    words = search_words(query.text)
    close = await close_words(connection, user_id, words) if words else {}
    page = page_statement(
        user_id=user_id, query=query, order=order, first=first, after=after, now=now, close=close
    )
    rows = (await connection.execute(page.statement)).all()
    has_next = len(rows) > first
    rows = rows[:first]
    cursors = [
        encode_cursor(
            page.signature,
            [_cursor_value(k, getattr(row, f"k{i}"), row) for i, k in enumerate(page.keys)],
        )
        for row in rows
    ]
    return TaskPage([TaskRecord.from_row(r) for r in rows], cursors, has_next, query)


def _cursor_value(key: _Key, value: Any, row: Any) -> Any:
    if key.null_as is not None:
        # The coalesced value may be ±infinity, which Python cannot hold: keep the raw column.
        return None if row.due_at is None else row.due_at.isoformat()
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    return value


def count_statement(
    *, user_id: uuid.UUID, query: TaskQuery, now: datetime, close: CloseWords
) -> Select[Any]:
    """The statement `count_tasks` runs (the benchmarks EXPLAIN the very same SQL)."""
    # One pass over both scopes (a count has no order for an index to give and visits every
    # match; a count per scope, added, read the heap pages the scopes share twice: at 1M tasks
    # 283 ms against 149 ms for a broad word, issue-16 notes), with the query's conditions
    # beside the scopes' OR rather than inside each branch: inside the OR, PostgreSQL runs a
    # tag filter's IN as a subplan, hashed only while the named tags' links fit in work_mem, and
    # past that scanned them again for every task (anyTags of five common tags over 100,000
    # tasks: 277 s). Beside it, the IN is a hash semi-join (220 ms; at 1M tasks 470 ms).
    if kept_count(query):
        return _kept_count_statement(user_id, query)
    return (
        select(func.count())
        .select_from(t.tasks)
        .where(*filter_conditions(user_id, query, now=now, close=close))
    )


# The filters `gateway.task_counts` answers: the key of its rows (scope, status, level).
_KEPT_COUNT_FILTERS = {"status": None, "project_id": None, "inbox": None, "top_level": None}


def kept_count(query: TaskQuery) -> bool:
    """Whether the query's count is a sum of kept counts (it filters by nothing else)."""
    return not search_words(query.text) and (
        replace(query, text=None, **_KEPT_COUNT_FILTERS) == TaskQuery()
    )


def _kept_count_statement(user_id: uuid.UUID, query: TaskQuery) -> Select[Any]:
    """The count of a `kept_count` query: a sum over the rows of the scopes it reaches.

    The scopes are `visible_scopes`' and the conditions `query_conditions`', on the counts'
    keys: a member of 91 projects adds up a few hundred rows instead of counting 734,000
    open tasks (the web app's default list: 280-487 ms p95 before).
    """
    counts = t.task_counts.c
    scopes: list[ColumnElement[bool]] = []
    if query.project_id is None and query.inbox is not False:
        scopes.append(and_(counts.personal, counts.scope == user_id))
    if query.inbox is not True:
        in_project = [~counts.personal, in_member_projects(counts.scope, user_id)]
        if query.project_id is not None:
            in_project.append(counts.scope == query.project_id)
        scopes.append(and_(*in_project))
    conditions = [or_(*scopes) if scopes else false()]
    if query.status is not None:
        conditions.append(counts.status == query.status.value)
    if query.top_level is not None:
        conditions.append(counts.top_level == query.top_level)
    total = func.coalesce(func.sum(counts.tasks), 0)
    return select(cast(total, BigInteger)).where(*conditions)


async def count_tasks(
    connection: AsyncConnection, *, user_id: uuid.UUID, query: TaskQuery, now: datetime
) -> int:
    """How many of the user's tasks match the query, exactly."""
    words = search_words(query.text)
    close = await close_words(connection, user_id, words) if words else {}
    statement = count_statement(user_id=user_id, query=query, now=now, close=close)
    return int(await connection.scalar(statement) or 0)


async def _search_settings(connection: AsyncConnection, *, typos: bool) -> None:
    """Settings of the transaction for the search statements that follow, in one round trip.

    Custom plans: a search's SQL is the same whatever the word (a parameter), and after five
    runs PostgreSQL may keep one generic plan, made without knowing the word, for every word.
    A selective word's plan then served a broad one or the other way round: at 1M tasks the
    broad search over everything a member sees hit the 3 s statement timeout on most requests
    of a benchmark run that searched the selective word first (its SQL alone took 457 ms),
    and at 300k a selective search took 550 ms instead of 5 (issue-16 notes). Planning each
    search afresh costs well under a millisecond.
    """
    await connection.execute(_settings_statement(typos))


@functools.cache
def _settings_statement(typos: bool) -> Select[Any]:
    """`_search_settings`' statement (two variants, built once)."""
    settings = [func.set_config("plan_cache_mode", "force_custom_plan", literal(True, Boolean))]
    if typos:
        settings.append(
            func.set_config(
                "pg_trgm.word_similarity_threshold",
                TYPO_CANDIDATE_THRESHOLD,
                literal(True, Boolean),
            )
        )
    return select(*settings)


async def tasks_by_id(
    connection: AsyncConnection, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, TaskRecord]:
    """The tasks among these ids the user can see; others and missing ones are absent."""
    rows = await connection.execute(
        select(t.tasks).where(visible_to(user_id), t.tasks.c.id.in_(list(ids)))
    )
    return {row.id: TaskRecord.from_row(row) for row in rows}


async def tags_of_tasks(
    connection: AsyncConnection, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[TagRecord]]:
    """Each task's tags in the order they were given."""
    rows = await connection.execute(
        select(t.task_tags.c.task_id, t.tags.c.id, t.tags.c.name, t.tags.c.project_id)
        .join(t.tags, t.tags.c.id == t.task_tags.c.tag_id)
        .where(t.task_tags.c.task_id.in_(list(task_ids)))
        .order_by(t.task_tags.c.task_id, t.task_tags.c.position)
    )
    grouped: dict[uuid.UUID, list[TagRecord]] = defaultdict(list)
    for row in rows:
        grouped[row.task_id].append(TagRecord(row.id, row.name, row.project_id))
    return grouped


async def reminders_of_tasks(
    connection: AsyncConnection, task_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[Reminder]]:
    """Each task's reminders in the order they were given."""
    rows = await connection.execute(
        select(t.reminders)
        .where(t.reminders.c.task_id.in_(list(task_ids)))
        .order_by(t.reminders.c.task_id, t.reminders.c.position)
    )
    grouped: dict[uuid.UUID, list[Reminder]] = defaultdict(list)
    for row in rows:
        grouped[row.task_id].append(reminder_from_row(row))
    return grouped


async def reminders_by_id(
    connection: AsyncConnection, user_id: uuid.UUID, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, Reminder]:
    """The user's reminders among these ids."""
    rows = await connection.execute(
        select(t.reminders).where(t.reminders.c.user_id == user_id, t.reminders.c.id.in_(list(ids)))
    )
    return {row.id: reminder_from_row(row) for row in rows}


async def project_of_tag(connection: AsyncConnection, tag_id: uuid.UUID) -> uuid.UUID | None:
    """The project whose tag set holds the tag, or None (a personal tag, or none)."""
    found = await connection.scalar(select(t.tags.c.project_id).where(t.tags.c.id == tag_id))
    return None if found is None else uuid.UUID(str(found))


async def project_tags(connection: AsyncConnection, project_id: uuid.UUID) -> list[TagRecord]:
    """A project's tag set by name (the caller has checked the reader is a member)."""
    rows = await connection.execute(
        select(t.tags.c.id, t.tags.c.name)
        .where(t.tags.c.project_id == project_id)
        .order_by(t.tags.c.name_key)
    )
    return [TagRecord(row.id, row.name, project_id) for row in rows]


async def user_tags(connection: AsyncConnection, user_id: uuid.UUID) -> list[TagRecord]:
    """All of the user's tags by name."""
    rows = await connection.execute(
        select(t.tags.c.id, t.tags.c.name)
        .where(t.tags.c.user_id == user_id, t.tags.c.project_id.is_(None))
        .order_by(t.tags.c.name_key)
    )
    return [TagRecord(row.id, row.name) for row in rows]


async def open_task_counts(
    connection: AsyncConnection, tag_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, int]:
    """How many open tasks carry each tag."""
    rows = await connection.execute(
        select(t.task_tags.c.tag_id, func.count())
        .join(t.tasks, t.tasks.c.id == t.task_tags.c.task_id)
        .where(t.task_tags.c.tag_id.in_(list(tag_ids)), t.tasks.c.status == "OPEN")
        .group_by(t.task_tags.c.tag_id)
    )
    return {row[0]: int(row[1]) for row in rows}


@dataclass(frozen=True, slots=True)
class UserRecord:
    """Another user as the members of a shared project see them."""

    id: uuid.UUID
    email: str


async def users_by_id(
    connection: AsyncConnection, ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, UserRecord]:
    """The users among these ids (callers only ask for creators and assignees of tasks the
    reader can see)."""
    rows = await connection.execute(
        select(t.users.c.id, t.users.c.email).where(t.users.c.id.in_(list(ids)))
    )
    return {row.id: UserRecord(row.id, row.email) for row in rows}


async def subtasks_of(
    connection: AsyncConnection, parent_ids: Sequence[uuid.UUID]
) -> dict[uuid.UUID, list[TaskRecord]]:
    """Each task's direct subtasks in manual order (whoever sees a task sees its subtasks)."""
    rows = await connection.execute(
        select(t.tasks)
        .where(t.tasks.c.parent_id.in_(list(parent_ids)))
        .order_by(t.tasks.c.parent_id, t.tasks.c.position, t.tasks.c.id)
    )
    grouped: dict[uuid.UUID, list[TaskRecord]] = defaultdict(list)
    for row in rows:
        grouped[row.parent_id].append(TaskRecord.from_row(row))
    return grouped
