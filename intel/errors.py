"""The root of prospect-intel's own errors; connectors have their own tree."""


class IntelError(Exception):
    """An error whose message is meant for the person running prospect-intel."""
