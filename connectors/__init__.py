"""Source connectors: each turns one kind of source into RawItems.

`CONNECTOR_FACTORIES` is the one place a kind is registered.
"""

from __future__ import annotations

from typing import Callable

from connectors.base import Connector
from connectors.http import PoliteClient
from connectors.rss import RssConnector

CONNECTOR_FACTORIES: dict[str, Callable[[PoliteClient], Connector]] = {
    "rss": RssConnector,
}


def build_connectors(client: PoliteClient) -> dict[str, Connector]:
    return {kind: factory(client) for kind, factory in CONNECTOR_FACTORIES.items()}
