"""Source connectors: each turns one kind of source into RawItems.

`CONNECTOR_FACTORIES` is the one place a kind is registered.
"""

from __future__ import annotations

from typing import Callable

from connectors.base import Connector
from connectors.crm import CrmConnector
from connectors.discover import DiscoverConnector
from connectors.http import PoliteClient
from connectors.json_source import JsonConnector
from connectors.rss import RssConnector
from connectors.web import WebConnector

CONNECTOR_FACTORIES: dict[str, Callable[[PoliteClient], Connector]] = {
    "rss": RssConnector,
    "web": WebConnector,
    "json": JsonConnector,
    "crm": CrmConnector,
    "discover": DiscoverConnector,
}


def build_connectors(client: PoliteClient) -> dict[str, Connector]:
    return {kind: factory(client) for kind, factory in CONNECTOR_FACTORIES.items()}
