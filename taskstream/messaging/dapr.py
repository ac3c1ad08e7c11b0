"""Dapr transport: publish through the sidecar's pub/sub API, receive pushes from it.

Subscriptions are declared to the sidecar programmatically (GET /dapr/subscribe) with their
dead-letter topics; Dapr delivers each event to a route of this app, which answers SUCCESS,
RETRY or DROP. Retries and backoff are Dapr's (its Resiliency policy); when they run out Dapr
moves the event to the dead-letter topic itself. Under Dapr a DROP also reaches the
dead-letter topic (Dapr 1.16 dead-letters dropped events when the subscription has one, with
bulk subscribe too), where the other transports discard it: nothing is lost, and the consumer
has already logged why. A poison event (the verdict `DeadLetter(reason)`: malformed, or an
unknown version) the app publishes to the dead-letter topic itself, with the reason, and
answers SUCCESS (RETRY when that publish fails).

Both directions carry a token: the app sends DAPR_API_TOKEN to its sidecar, and the sidecar
sends APP_API_TOKEN with every call to the app, which the delivery routes check.

Bulk subscribe (`BulkSubscribe`, TASKSTREAM_DAPR_BULK_SUBSCRIBE; off by default): the sidecar
delivers up to `max_messages` messages of one partition in one request ({"entries": [...]}) and
the app answers one status per entry ({"statuses": [{"entryId", "status"}]}); the run goes to
the consumer's batch path (one transaction). Dapr retries only the entries answered RETRY, after
the rest of the bulk was settled, which would let a later event of the same key overtake one
that failed for a moment. So under bulk the app first retries a failing entry itself, in order
(`RetryPolicy`, as the Kafka transport does), and answers RETRY only once those retries ran out;
Dapr then retries that entry by its Resiliency policy and dead-letters it. What differs from
single delivery: the entries after such an exhausted entry in its bulk are already handled
when Dapr retries it (if it then succeeds, it is applied after them), its attempts are the
app's times Dapr's, and a bulk's in-app retries hold its HTTP request open (bounded by the
Resiliency `deliver` timeout, far above the app's retry delays). The contract suite runs with
bulk on and off (tests/integration/test_messaging_contract.py).

A bulk subscription asks for raw payloads unless tracing is on (`BulkSubscribe.raw_payloads`):
each entry's `event` is then the message's bytes in base64, which the app parses itself, where
daprd would otherwise parse every CloudEvent into a map and write it out again (measured: 0.039
-> 0.016 ms of the sidecar's CPU per event, and Dapr 1.16's Kafka component sends one bulk at a
time for all of a subscription's partitions, so the sidecar's time per bulk is on the critical
path). Traced, the sidecar parses them: its delivery spans take their parent from the parsed
event's `traceparent`, and a raw payload would leave them out of the trace. An entry that is
not a JSON object is dead-lettered by the app with the reason, as the Kafka transport does
with such a record; without raw payloads daprd dead-letters it itself, as it is.
"""

from __future__ import annotations

import asyncio
import base64
import hmac
import json
import logging
from collections.abc import Sequence
from typing import Any
from urllib.parse import parse_qs, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from taskstream import telemetry
from taskstream.messaging.bus import (
    NOT_AN_EVENT,
    BulkSubscribe,
    DeadLetter,
    Message,
    Outcome,
    PublishError,
    Subscription,
    Transport,
    Verdict,
    dead_letter_topic,
    dead_lettered,
)
from taskstream.messaging.metrics import CONSUMER_METRICS
from taskstream.messaging.retry import RetryPolicy, settle_batch
from taskstream.sidecar import SidecarClient, SidecarUnreachable

log = logging.getLogger(__name__)

CLOUDEVENTS_JSON = "application/cloudevents+json"


class DaprTransport(Transport):
    """Talks to the app's own daprd over HTTP."""

    def __init__(
        self,
        *,
        app_id: str,
        dapr_http: str,
        pubsub: str = "pubsub",
        api_token: str | None = None,
        app_token: str | None = None,
        bulk: BulkSubscribe | None = None,
        policy: RetryPolicy | None = None,
    ) -> None:
        self.app_id = app_id
        self.pubsub = pubsub
        self.dapr_http = dapr_http.rstrip("/")
        self.api_token = api_token
        self.app_token = app_token
        self.bulk = bulk
        # In-app retries of a bulk's entries (single deliveries are retried by Dapr alone).
        self.policy = policy or RetryPolicy()
        self._sidecar: SidecarClient | None = None
        self._subscriptions: dict[str, Subscription] = {}

    @classmethod
    def from_url(
        cls,
        url: str,
        *,
        app_id: str,
        api_token: str | None = None,
        app_token: str | None = None,
        bulk: BulkSubscribe | None = None,
        pubsub: str = "pubsub",
    ) -> DaprTransport:
        """dapr://HOST:PORT[?pubsub=NAME]: the sidecar's HTTP address (the rest from Settings).

        The URL's `pubsub` wins over the `pubsub` argument (TASKSTREAM_PUBSUB_NAME).
        """
        parts = urlsplit(url)
        query = parse_qs(parts.query)
        return cls(
            app_id=app_id,
            dapr_http=f"http://{parts.netloc or '127.0.0.1:3500'}",
            pubsub=query.get("pubsub", [pubsub])[0],
            api_token=api_token,
            app_token=app_token,
            bulk=bulk,
        )

    async def start(self) -> None:
        """Open the HTTP client to the sidecar."""
        self._sidecar = SidecarClient(self.dapr_http, api_token=self.api_token, timeout=15.0)

    async def close(self) -> None:
        """Close the HTTP client."""
        if self._sidecar is not None:
            await self._sidecar.close()

    async def publish(self, messages: Sequence[Message]) -> None:
        """Publish in waves of bulk requests holding each (topic, key)'s run in order.

        A key's messages go in runs (`lane_runs`), each run whole and in order inside one
        bulk request: daprd hands a bulk to its Kafka producer in entry order and one key is
        one partition, so the run lands in order (checked by reading the partition back:
        tests/integration/test_dapr_publish.py). Wave n carries the n-th run of every key,
        packed into requests of at most `BULK_ENTRIES` entries and `BULK_BYTES` per topic,
        all sent at once; the next wave starts only when every request of this one was
        acknowledged, so a key's later run is never in flight beside its earlier one.
        A traced event goes alone by the single-event API, so Dapr's producer span joins
        that event's own trace (a bulk request has one trace for all its events).
        """
        if self._sidecar is None:
            raise PublishError("the Dapr transport is not started")
        sidecar = self._sidecar
        for wave in publish_waves(messages):
            calls = [
                # A lone event goes by the single-event API, which daprd serves faster than
                # a bulk of one (measured: a batch of one key is then as fast as before).
                self._publish_one(sidecar, chunk[0][0])
                if len(chunk) == 1
                else self._publish_bulk(sidecar, topic, chunk)
                for topic, chunk in wave
            ]
            failures = [
                outcome
                for outcome in await asyncio.gather(*calls, return_exceptions=True)
                if isinstance(outcome, BaseException)
            ]
            if failures:
                # The wave's other requests ran to their end: re-publishing them with the
                # batch is a duplicate (consumers deduplicate on the id), never a reordering.
                error = failures[0]
                if isinstance(error, PublishError):
                    raise error
                raise PublishError(f"publish failed: {error!r}") from error

    async def _publish_bulk(
        self, sidecar: SidecarClient, topic: str, encoded: Sequence[tuple[Message, bytes]]
    ) -> None:
        """One bulk publish of events of distinct keys; PublishError unless all were acked."""
        # Assembled from the events' JSON as encoded for sizing: each is encoded once.
        entries = b",".join(
            b'{"entryId":"%d","contentType":"%s","metadata":{"partitionKey":%s},"event":%s}'
            % (n, CLOUDEVENTS_JSON.encode(), json.dumps(message.key).encode(), event)
            for n, (message, event) in enumerate(encoded)
        )
        try:
            response = await sidecar.request(
                "POST",
                f"/v1.0-alpha1/publish/bulk/{self.pubsub}/{topic}",
                body=b"[" + entries + b"]",
                headers={"content-type": "application/json"},
            )
        except SidecarUnreachable as error:
            raise PublishError(f"daprd unreachable: {error}") from error
        if response.status != 204:
            raise PublishError(
                f"daprd refused the bulk publish: {response.status} {response.text()}"
            )

    async def _publish_one(self, sidecar: SidecarClient, message: Message) -> None:
        try:
            # In the event's trace: the request to daprd carries it, and Dapr's spans (and the
            # traceparent it gives the delivered event) continue it (taskstream/telemetry.py).
            with telemetry.continuing(message.body.get("traceparent")):
                response = await sidecar.request(
                    "POST",
                    f"/v1.0/publish/{self.pubsub}/{message.topic}",
                    body=message.encode(),
                    params={"metadata.partitionKey": message.key},
                    headers={"content-type": CLOUDEVENTS_JSON},
                )
        except SidecarUnreachable as error:
            raise PublishError(f"daprd unreachable: {error}") from error
        if response.status != 204:
            raise PublishError(f"daprd refused the publish: {response.status} {response.text()}")

    async def subscribe(self, subscriptions: Sequence[Subscription]) -> None:
        """Remember the subscriptions; the sidecar reads them from GET /dapr/subscribe."""
        for subscription in subscriptions:
            if subscription.topic in self._subscriptions:
                raise ValueError(f"{self.app_id} subscribes to {subscription.topic} twice")
            self._subscriptions[subscription.topic] = subscription

    def routes(self) -> list[BaseRoute]:
        """The routes daprd calls: the subscription list and one delivery route per topic."""
        return [
            Route("/dapr/subscribe", self._declare, methods=["GET"]),
            Route("/dapr/events/{topic}", self._deliver, methods=["POST"]),
            Route("/dapr/bulk/{topic}", self._deliver_bulk, methods=["POST"]),
        ]

    def _from_sidecar(self, request: Request) -> bool:
        """True when the caller presents the app token daprd adds (or none is configured)."""
        if self.app_token is None:
            return True
        presented = request.headers.get("dapr-api-token", "")
        return hmac.compare_digest(presented.encode(), self.app_token.encode())

    async def _declare(self, request: Request) -> Response:
        if not self._from_sidecar(request):
            return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
        return JSONResponse([self._declaration(topic) for topic in self._subscriptions])

    def _declaration(self, topic: str) -> dict[str, Any]:
        declared: dict[str, Any] = {
            "pubsubname": self.pubsub,
            "topic": topic,
            "route": f"/dapr/events/{topic}",
            "deadLetterTopic": dead_letter_topic(topic),
        }
        if self.bulk is not None:
            declared["route"] = f"/dapr/bulk/{topic}"
            declared["bulkSubscribe"] = {
                "enabled": True,
                "maxMessagesCount": self.bulk.max_messages,
                "maxAwaitDurationMs": self.bulk.max_await_ms,
            }
            if self.bulk.raw_payloads:
                declared["metadata"] = {"rawPayload": "true"}
        return declared

    async def _deliver(self, request: Request) -> Response:
        if not self._from_sidecar(request):
            # Not SUCCESS/RETRY/DROP: whoever this is, it is not our sidecar delivering.
            return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
        topic = request.path_params["topic"]
        subscription = self._subscriptions.get(topic)
        if subscription is None:
            return JSONResponse({"status": Outcome.DROP.value})
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            return JSONResponse({"status": Outcome.DROP.value})
        message = Message(topic, str(body.get("partitionkey", "")), body)
        try:
            verdict = await subscription.handler(message)
        except Exception:
            log.exception("handler crashed", extra={"group": subscription.group, "topic": topic})
            verdict = Outcome.RETRY
        outcome = await self._answer(subscription, message, verdict)
        _count(subscription.group, topic, outcome)
        return JSONResponse({"status": outcome.value})

    async def _deliver_bulk(self, request: Request) -> Response:
        if not self._from_sidecar(request):
            return JSONResponse({"code": "UNAUTHENTICATED"}, status_code=401)
        topic = request.path_params["topic"]
        try:
            body: Any = await request.json()
        except ValueError:
            body = None
        entries = body.get("entries") if isinstance(body, dict) else None
        if not isinstance(entries, list):
            # No entry ids to answer for: a 404 is Dapr's "drop them all".
            return JSONResponse({"code": "NOT_A_BULK"}, status_code=404)
        statuses: dict[str, Outcome] = {}
        usable: list[tuple[str, Message]] = []
        subscription = self._subscriptions.get(topic)
        for entry in entries:
            if not isinstance(entry, dict) or "entryId" not in entry:
                continue
            entry_id = str(entry["entryId"])
            event = bulk_event(entry.get("event"))
            if subscription is None:
                statuses[entry_id] = Outcome.DROP
                continue
            if event is None:
                # As the Kafka transport does with a record that is not JSON: dead-lettered
                # with the reason, the payload as delivered under `raw`.
                poison = Message(topic, "", {"raw": entry.get("event")})
                outcome = await self._answer(subscription, poison, DeadLetter(NOT_AN_EVENT))
                statuses[entry_id] = outcome
                _count(subscription.group, topic, outcome)
                continue
            usable.append((entry_id, Message(topic, str(event.get("partitionkey", "")), event)))
        if subscription is not None and usable:
            outcomes = await settle_batch(
                subscription, [message for _, message in usable], policy=self.policy
            )
            for (entry_id, message), verdict in zip(usable, outcomes, strict=True):
                outcome = await self._answer(subscription, message, verdict)
                statuses[entry_id] = outcome
                _count(subscription.group, topic, outcome)
        return JSONResponse(
            {"statuses": [{"entryId": e, "status": o.value} for e, o in statuses.items()]}
        )

    async def _answer(
        self, subscription: Subscription, message: Message, verdict: Verdict
    ) -> Outcome:
        """The status for the sidecar; a poison message is dead-lettered here, with its reason.

        Dapr would dead-letter a DROP too, but without saying why: the app publishes it to the
        dead-letter topic itself (it may: see publishingScopes) and answers SUCCESS, or RETRY
        when that publish failed.
        """
        if not isinstance(verdict, DeadLetter):
            return verdict
        dead = dead_lettered(message, group=subscription.group, reason=verdict.reason)
        try:
            await self.publish([dead])
        except PublishError:
            log.exception("dead-letter publish failed", extra={"topic": message.topic})
            return Outcome.RETRY
        CONSUMER_METRICS.dead_lettered.labels(subscription.group, message.topic).inc()
        return Outcome.SUCCESS


def bulk_event(event: Any) -> dict[str, Any] | None:
    """The CloudEvent of a bulk entry: a raw payload (base64 of its JSON) or, from a sidecar
    that parsed it, the object itself; None when it is not a JSON object."""
    if isinstance(event, str):
        try:
            event = json.loads(base64.b64decode(event, validate=True))
        except ValueError:  # not base64, not UTF-8 or not JSON
            return None
    return event if isinstance(event, dict) else None


# Limits of one bulk request, by measurement (bench/results/issue19-perf.md, branch
# s-relay19): entries of one request and bytes of their events, well under daprd's default
# 4 MB request body limit. A key's run never exceeds them, so it always fits one request.
BULK_ENTRIES = 500
BULK_BYTES = 1 << 20

Encoded = tuple[Message, bytes]
# A bulk request (or a lone event): its topic and its events with their JSON.
BulkRequest = tuple[str, list[Encoded]]


def lane_runs(messages: Sequence[Message]) -> list[list[list[Encoded]]]:
    """Each (topic, key)'s messages in order with their JSON, cut into runs that fit one
    request (≤ BULK_ENTRIES, ≤ BULK_BYTES); a traced message is a run of its own."""
    lanes: dict[tuple[str, str], list[list[Encoded]]] = {}
    sizes: dict[tuple[str, str], int] = {}
    for message in messages:
        lane = (message.topic, message.key)
        runs = lanes.setdefault(lane, [])
        event = message.encode()
        if (
            not runs
            or _traced(message)
            or _traced(runs[-1][-1][0])
            or len(runs[-1]) >= BULK_ENTRIES
            or sizes[lane] + len(event) > BULK_BYTES
        ):
            runs.append([])
            sizes[lane] = 0
        runs[-1].append((message, event))
        sizes[lane] += len(event)
    return list(lanes.values())


def publish_waves(messages: Sequence[Message]) -> list[list[BulkRequest]]:
    """The messages as waves of requests: wave n holds the n-th run of every (topic, key),
    each run whole in one request, a traced run alone; so no wave holds two runs of a key."""
    waves: list[list[list[Encoded]]] = []
    for runs in lane_runs(messages):
        for depth, run in enumerate(runs):
            if depth == len(waves):
                waves.append([])
            waves[depth].append(run)
    return [_requests(wave) for wave in waves]


def _requests(runs: Sequence[list[Encoded]]) -> list[BulkRequest]:
    """One wave's runs packed into requests per topic, in order, within the bulk limits."""
    requests: list[BulkRequest] = []
    filling: dict[str, list[Encoded]] = {}
    used: dict[str, int] = {}
    for run in runs:
        topic = run[0][0].topic
        if _traced(run[0][0]):
            requests.append((topic, run))
            continue
        size = sum(len(event) for _, event in run)
        chunk = filling.setdefault(topic, [])
        if chunk and (len(chunk) + len(run) > BULK_ENTRIES or used[topic] + size > BULK_BYTES):
            requests.append((topic, chunk))
            chunk = filling[topic] = []
        if not chunk:
            used[topic] = 0
        chunk.extend(run)
        used[topic] += size
    requests.extend(filling.items())
    return requests


def _traced(message: Message) -> bool:
    """True when the event carries its trace context (it goes by the single-event API)."""
    return "traceparent" in message.body


def _count(group: str, topic: str, outcome: Outcome) -> None:
    """Count a RETRY, and a DROP: the sidecar moves a dropped event to the dead-letter topic.

    Events whose retries Dapr itself exhausts are dead-lettered by the sidecar without asking
    this app again; those show in the dead-letter topic's depth, not in this counter.
    """
    if outcome is Outcome.RETRY:
        CONSUMER_METRICS.retried.labels(group, topic).inc()
    elif outcome is Outcome.DROP:
        CONSUMER_METRICS.dead_lettered.labels(group, topic).inc()
