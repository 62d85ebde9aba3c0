"""The one exception type the pipeline raises for bad input."""


class WeaksegError(Exception):
    """Bad input or configuration: the message names the file, key or value at fault.

    Command-line entry points turn it into a one-line message on stderr and exit status 1.
    """
