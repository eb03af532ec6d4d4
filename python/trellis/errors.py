"""Errors a user can act on. The CLI prints them as one line, never a traceback."""


class TrellisError(Exception):
    """A failure with a message meant for the person running the command."""
