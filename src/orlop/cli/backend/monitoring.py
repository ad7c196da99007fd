"""Monitoring calls of the backends: events, stats, update.

Both sides yield the same Docker wire dicts: the local side reads the event log and the
cgroups itself (engine/events.py, engine/containers/stats.py, the functions orlopd's routes use),
the remote side asks orlopd.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

TYPE_CHECKING = False  # typing at type-checking time only (issue 17)
if TYPE_CHECKING:
    from typing import Any

    from orlop.client import APIClient
    from orlop.engine import Engine


class LocalMonitoring:
    engine: Engine

    def events(self, since: str = "", until: str = "",
               filters: Mapping[str, Sequence[str]] | None = None) -> Iterator[dict[str, Any]]:
        from orlop.engine.events import EventFilter, stream

        EventFilter(filters)  # a bad filter fails now, before anything is printed
        return stream(self.engine.events, since, until, filters)

    def container_stats(self, ref: str, *, stream: bool = True,
                        one_shot: bool = False) -> Iterator[dict[str, Any]]:
        c = self.engine.get_container(ref)  # an unknown name fails now
        return _stats_in_own_engine(self.engine, c.id, stream, one_shot)

    def containers_for_stats(self, all_: bool) -> list[dict[str, str]]:
        """``{"Id", "Name"}`` of the running (or all) containers, newest first."""
        return [{"Id": c.id, "Name": "/" + c.name}
                for c in self.engine.list_containers(all_=all_)]

    def update_container(self, ref: str, body: Mapping[str, Any]) -> dict[str, Any]:
        from orlop.engine.containers.stats import update_container, update_from_wire

        return update_container(self.engine, ref, update_from_wire(body))


def _stats_in_own_engine(engine: Engine, cid: str, stream: bool,
                         one_shot: bool) -> Iterator[dict[str, Any]]:
    """The stream with an engine of its own, made where the generator runs: `stats`
    reads each container in a thread, and a SQLite connection is not for sharing."""
    from orlop.engine import Engine
    from orlop.engine.containers.stats import stats_stream

    own = Engine(engine.config)
    own.skip_reconcile()
    try:
        yield from stats_stream(own, cid, stream=stream, one_shot=one_shot)
    finally:
        own.close()


class RemoteMonitoring:
    api: APIClient

    def events(self, since: str = "", until: str = "",
               filters: Mapping[str, Sequence[str]] | None = None) -> Iterator[dict[str, Any]]:
        return self.api.events(since, until, filters)

    def container_stats(self, ref: str, *, stream: bool = True,
                        one_shot: bool = False) -> Iterator[dict[str, Any]]:
        return self.api.container_stats(ref, stream=stream, one_shot=one_shot)

    def containers_for_stats(self, all_: bool) -> list[dict[str, str]]:
        return [{"Id": str(c["Id"]), "Name": str((c.get("Names") or [""])[0])}
                for c in self.api.containers(all_=all_)]

    def update_container(self, ref: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.api.update_container(ref, body)
