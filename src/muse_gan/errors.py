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


class Interrupted(MuseError):
    """Work stopped by Ctrl-C (SIGINT) or SIGTERM; ``exit_code`` is what a shell reports for a
    process that signal ended: 128 + its number (130, 143)."""

    def __init__(self, message: str, signal_number: int):
        super().__init__(message)
        self.exit_code = 128 + signal_number
