"""Errors a user can act on.

Every problem with a user's input (a file, an option, a config key) is raised as a
``MuseError`` carrying one line that names the thing and the reason. The CLI prints that
line and exits non-zero, without a traceback; library callers can catch it.
"""


class MuseError(Exception):
    """A problem with the user's input, described in one line."""


class DataError(MuseError, ValueError):
    """A data file that cannot be read or used; the message names the file and why."""


class ConfigError(MuseError, ValueError):
    """An unknown config key, a wrong type, or a value out of range."""
