"""Alerts: urgent signals pushed to chat webhooks (Slack, Microsoft Teams) and signed JSON endpoints.

`rules` decides which new signals matter, `messages` writes each webhook's
body, `dispatcher` queues and delivers them from the worker, off the path of
source runs, so a slow or failing webhook never holds up ingestion.
"""

from intel.alerts.dispatcher import AlertDispatcher

__all__ = ["AlertDispatcher"]
