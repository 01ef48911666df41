"""The one exception type the CLIs turn into a one-line message and exit code 2."""


class InputError(ValueError):
    """Bad user input (a path, a value, a file's content): say what and where, on one line."""
