"""The one exception type a user can act on.

Raised for bad input (an unreadable file, an unknown series, a bad argument). The command line
prints its message as one line and exits 2; the API turns it into a 4xx at the route layer.
"""


class NarcotrendError(Exception):
    """An error the user can fix; its message names the thing and what would be right."""

    exit_code = 2
