
__all__ = ["ReplicoderError"]
"""The one exception type users see: a message that says what is wrong and what to do."""


class ReplicoderError(Exception):
    """An error caused by input or state the user can fix.

    The CLI prints the message (no traceback) and exits with status 2.
    """
