"""The per-replica membership cache: what it keeps, and what a change makes it forget."""

from __future__ import annotations

from gateway_core.live import MembershipCache


def test_a_read_is_kept_until_the_project_changes() -> None:
    cache = MembershipCache()
    assert cache.get("u", "p") is None
    cache.put("u", "p", True, cache.generation("p"))
    cache.put("v", "p", False, cache.generation("p"))
    cache.put("u", "q", False, cache.generation("q"))
    assert (cache.get("u", "p"), cache.get("v", "p"), cache.get("u", "q")) == (True, False, False)
    cache.forget("p")
    assert (cache.get("u", "p"), cache.get("v", "p"), cache.get("u", "q")) == (None, None, False)


def test_a_read_that_overlapped_a_change_is_not_kept() -> None:
    cache = MembershipCache()
    generation = cache.generation("p")  # the read begins...
    cache.forget("p")  # ...the member is removed meanwhile...
    cache.put("u", "p", True, generation)  # ...and its (stale) answer arrives
    assert cache.get("u", "p") is None


def test_it_starts_again_when_full_and_clears_on_reconnect() -> None:
    cache = MembershipCache(maximum=2)
    cache.put("a", "p", True, cache.generation("p"))
    cache.put("b", "p", True, cache.generation("p"))
    cache.put("c", "q", True, cache.generation("q"))
    assert (cache.get("a", "p"), cache.get("c", "q")) == (None, True)
    cache.clear()
    assert cache.get("c", "q") is None


def test_an_answer_is_read_again_once_older_than_its_time_to_live() -> None:
    now = [100.0]
    cache = MembershipCache(ttl=5.0, clock=lambda: now[0])
    cache.put("u", "p", True, cache.generation("p"))
    now[0] += 4.9
    assert cache.get("u", "p") is True
    now[0] += 0.1
    assert cache.get("u", "p") is None
    # Read again: trusted for another time to live.
    cache.put("u", "p", False, cache.generation("p"))
    now[0] += 4.9
    assert cache.get("u", "p") is False
