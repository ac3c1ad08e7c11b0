"""One execution per live subscription shape, shared by every socket that asked for it.

A user with several tabs and devices opens one socket each, each with the same subscription
document. Executed separately, every event would be resolved, executed and serialised once per
socket: at thousands of sockets that work, and the garbage it leaves, dominate the gateway's
CPU. Here subscriptions with the same account, document, variables and operation name join one
group: a producer task runs the subscription once (the LiveHub delivers to it like to any
subscriber) and serialises each result once; every member socket only frames and sends the
text under its own operation id.

Behaviour stays as for a lone subscription: results arrive in the producer's order; a stream
that ends sends `complete`; a cut-off (the hub or the resolver closing "the socket" with 1013)
closes every member's socket with that code; a member that falls more than `queue_size`
messages behind is closed with 1013 alone, as the hub closes a slow subscriber. Only
subscriptions are shared (never a query or mutation sent over the socket), and only for an
authenticated account: results then depend on nothing but the account and the document.

Across accounts: the members of a project each run their own group, and each receives every
event of the project. When the document reads nothing of the viewer
(`graphql_schema.live_sharing`), the groups running it share each project event's text
(`gateway_core.live.SharedResults`): the first to reach the event executes it, the others send
that text. Each group still checks its account's membership before it takes an event (a
removed member stops at once), and documents that read the viewer run once per account.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from typing import Any

from graphql import GraphQLError, OperationType, get_operation_ast, parse
from starlette.types import Message, Scope
from starlette.websockets import WebSocket, WebSocketDisconnect
from strawberry.http.exceptions import WebSocketDisconnected
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
    Operation,
)
from strawberry.types.execution import ExecutionResult, PreExecutionError
from strawberry.utils.aio import aclosing

from gateway_core.live import ResultShare, SharedResults
from graphql_schema.context import Context
from graphql_schema.live_sharing import reads_viewer

log = logging.getLogger(__name__)

TRY_AGAIN_LATER = 1013
SLOW_REASON = "fell behind; reconnect and refetch"
# Distinct documents remembered as subscription or not (parsing each subscribe costs more).
KIND_CACHE_SIZE = 512

GroupKey = tuple[str, str, str, str | None]


@dataclasses.dataclass(frozen=True, slots=True)
class Shape:
    """What a document's selected operation is, as far as sharing goes."""

    subscription: bool
    # Its results are the same for every account that may receive an event (see module).
    viewer_independent: bool


NOT_SHARED = Shape(subscription=False, viewer_independent=False)


@dataclasses.dataclass(frozen=True, slots=True)
class Close:
    """The group's stream closed "the socket": close every member's with this code."""

    code: int
    reason: str


@dataclasses.dataclass(frozen=True, slots=True)
class Raw:
    """A result the member must answer itself (a pre-execution error, incremental delivery)."""

    result: Any


COMPLETE = "complete"
End = Close | str
Item = str | Raw


class Member:
    """One socket's place in a group: a bounded backlog of serialised payloads."""

    __slots__ = ("_waiter", "end", "items", "limit")

    def __init__(self, limit: int) -> None:
        self.items: deque[Item] = deque()
        self.limit = limit
        self.end: End | None = None
        self._waiter: asyncio.Future[None] | None = None

    def offer(self, item: Item) -> None:
        """Queue an item; a member already `limit` behind is closed instead."""
        if self.end is not None:
            return
        if len(self.items) >= self.limit:
            self.items.clear()
            self.finish(Close(TRY_AGAIN_LATER, SLOW_REASON))
            return
        self.items.append(item)
        self._wake()

    def finish(self, end: End) -> None:
        """No more items after those queued; then `end`."""
        if self.end is None:
            self.end = end
            self._wake()

    async def next(self) -> Item | End:
        """The next item, or how the stream ended once every item was taken."""
        while not self.items and self.end is None:
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        if self.items:
            return self.items.popleft()
        assert self.end is not None
        return self.end

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class Group:
    """The members of one subscription shape and the task that produces for them."""

    __slots__ = ("key", "members", "producer")

    def __init__(self, key: GroupKey) -> None:
        self.key = key
        self.members: set[Member] = set()
        self.producer: asyncio.Task[None] | None = None

    def deliver(self, item: Item) -> None:
        """Give an item to every member."""
        for member in self.members:
            member.offer(item)

    def finish(self, end: End) -> None:
        """End every member's stream."""
        for member in self.members:
            member.finish(end)


class GroupSocket(WebSocket):
    """Stands in for "the socket" in the producer's context: closing it closes every member's.

    Resolvers close `info.context.request` to make a subscriber reconnect; in a group that
    request belongs to no one socket, so the close is recorded and applied to all members.
    """

    def __init__(self, scope: Scope, group: Group) -> None:
        super().__init__(scope, receive=_never_receive, send=_never_send)
        self.group = group
        self.closed: Close | None = None

    async def close(self, code: int = 1000, reason: str | None = None) -> None:
        """Record the close; the producer applies it to the members when its stream ends."""
        if self.closed is None:
            self.closed = Close(code, reason or "")


async def _never_receive() -> Message:
    raise RuntimeError("a shared subscription's context socket cannot receive")


async def _never_send(message: Message) -> None:
    raise RuntimeError("a shared subscription's context socket cannot send")


class SharedStreams:
    """This replica's groups of identical live subscriptions."""

    def __init__(self, *, queue_size: int, max_tokens: int | None = None) -> None:
        self.queue_size = queue_size
        # The same token limit as the schema's parser: this parse runs before the schema's.
        self.max_tokens = max_tokens
        self._groups: dict[GroupKey, Group] = {}
        self._kinds: OrderedDict[tuple[str, str | None], Shape] = OrderedDict()
        # Project events' results, shared by the groups of viewer-independent documents.
        self.results = SharedResults()

    def shape(self, query: str, operation_name: str | None) -> Shape:
        """Whether the document's selected operation is a subscription, and whether its
        results are viewer-independent (neither if unparsable)."""
        key = (query, operation_name)
        known = self._kinds.get(key)
        if known is None:
            try:
                document = parse(query, max_tokens=self.max_tokens)
                operation = get_operation_ast(document, operation_name)
            except GraphQLError:
                operation = None
            if operation is None or operation.operation is not OperationType.SUBSCRIPTION:
                known = NOT_SHARED
            else:
                known = Shape(True, not reads_viewer(document, operation_name))
            self._kinds[key] = known
            if len(self._kinds) > KIND_CACHE_SIZE:
                self._kinds.popitem(last=False)
        else:
            self._kinds.move_to_end(key)
        return known

    def is_subscription(self, query: str, operation_name: str | None) -> bool:
        """Whether the document's selected operation is a subscription (False if unparsable)."""
        return self.shape(query, operation_name).subscription

    def join(self, key: GroupKey, produce: Callable[[Group], Awaitable[None]]) -> Member:
        """A new member of the key's group, starting the group's producer if there is none."""
        group = self._groups.get(key)
        if group is None:
            group = self._groups[key] = Group(key)
            group.producer = asyncio.create_task(self._run(group, produce), name="live-group")
        member = Member(self.queue_size)
        group.members.add(member)
        return member

    def leave(self, key: GroupKey, member: Member) -> None:
        """Remove a member; the last one out stops the producer."""
        group = self._groups.get(key)
        if group is None or member not in group.members:
            return
        group.members.discard(member)
        if not group.members:
            del self._groups[key]
            if group.producer is not None:
                group.producer.cancel()

    def groups(self) -> int:
        """How many shared executions are running."""
        return len(self._groups)

    async def _run(self, group: Group, produce: Callable[[Group], Awaitable[None]]) -> None:
        try:
            await produce(group)
        finally:
            # Later subscribers start a fresh execution rather than join a finished one.
            if self._groups.get(group.key) is group:
                del self._groups[group.key]


class SharedTransportWSHandler(BaseGraphQLTransportWSHandler[Context, None]):
    """graphql-transport-ws whose identical subscriptions share one execution (see module)."""

    async def run_operation(self, operation: Operation[Context, None]) -> None:
        """Join the operation's group when it is shareable; else run it alone."""
        streams: SharedStreams | None = getattr(self.view, "shared_streams", None)
        user_id = getattr(self.context, "user_id", None)
        shape = (
            NOT_SHARED
            if streams is None or user_id is None
            else streams.shape(operation.query, operation.operation_name)
        )
        if streams is None or not shape.subscription:
            await super().run_operation(operation)
            return
        key: GroupKey = (
            str(user_id),
            operation.query,
            json.dumps(operation.variables, sort_keys=True, default=str),
            operation.operation_name,
        )
        share_across_accounts = streams.results if shape.viewer_independent else None
        member = streams.join(
            key, lambda group: self._produce(group, operation, share_across_accounts)
        )
        try:
            await self._relay(operation, member)
        except WebSocketDisconnected:
            pass  # the socket's own handler shuts the connection down
        finally:
            streams.leave(key, member)

    async def _relay(self, operation: Operation[Context, None], member: Member) -> None:
        prefix = '{"id":' + json.dumps(operation.id) + ',"type":"next","payload":'
        while True:
            item = await member.next()
            # COMPLETE is a str too: it must not be sent as a payload (it was, when a
            # subscription ended by itself, e.g. refused by the cost limit at its start).
            if isinstance(item, str) and item is not COMPLETE:
                if operation.completed:
                    return
                await self._send_text(prefix + item + "}")
            elif isinstance(item, Raw):
                await self._answer_raw(operation, item.result)
                return
            elif isinstance(item, Close):
                await self.websocket.close(code=item.code, reason=item.reason)
                return
            else:
                await operation.send_operation_message({"id": operation.id, "type": "complete"})
                return

    async def _answer_raw(self, operation: Operation[Context, None], result: Any) -> None:
        if isinstance(result, PreExecutionError):
            # Closes the socket (syntax errors) or answers `error`, as a lone operation would.
            with contextlib.suppress(Exception):
                await self._handle_pre_execution_error(operation, result)
        else:
            await self._reject_incremental_delivery(operation)

    async def _send_text(self, text: str) -> None:
        socket: WebSocket = self.websocket.ws  # type: ignore[attr-defined]
        try:
            await socket.send_text(text)
        except WebSocketDisconnect as error:
            raise WebSocketDisconnected from error

    async def _produce(
        self,
        group: Group,
        operation: Operation[Context, None],
        results: SharedResults | None,
    ) -> None:
        """Run the subscription once for the whole group (sharing project events' results
        with other accounts' groups of the document when `results` is given)."""
        scope = self.context.request.scope if self.context.request is not None else None
        socket = GroupSocket(scope or {"type": "websocket"}, group)
        context = dataclasses.replace(self.context, request=socket, response=socket)
        context.connection_params = None
        share: ResultShare | None = None
        if results is not None:
            # The group's key without the account: the same execution for every member.
            share = context.live_share = results.share(
                group.key[1:],
                group.deliver,
                wait_seconds=self.context.services.settings.request_timeout_seconds,
            )
        end: End = COMPLETE
        try:
            stream = await self.schema.stream(
                operation.query,
                variable_values=operation.variables,
                context_value=context,
                root_value=self.root_value,
                operation_name=operation.operation_name,
            )
            async with aclosing(stream):
                async for result in stream:
                    if isinstance(result, PreExecutionError) or not isinstance(
                        result, ExecutionResult
                    ):
                        group.deliver(Raw(result))
                        return
                    text = self._encode(result)
                    if share is not None:
                        # Only a clean result is another member's: an error may be this
                        # execution's own (a timeout), and the others then run it themselves.
                        share.settle(None if result.errors else text)
                    group.deliver(text)
            if socket.closed is not None:
                end = socket.closed
        except asyncio.CancelledError:
            raise
        except Exception as error:
            await self.handle_task_exception(error)
        finally:
            if share is not None:
                share.abandon()
            group.finish(end)

    def _encode(self, result: ExecutionResult) -> str:
        payload: dict[str, object] = {"data": result.data}
        if result.errors:
            payload["errors"] = [error.formatted for error in result.errors]
        if result.extensions:
            payload["extensions"] = result.extensions
        encoded = self.view.encode_json(payload)
        return encoded.decode() if isinstance(encoded, bytes) else encoded
