"""The notifications service's internal API: what the gateway may ask of it, and its limits."""

from __future__ import annotations

# A user may register at most this many webhooks: the notifications service refuses more and the
# gateway prices the `webhooks` list with it.
WEBHOOKS_MAX = 20
