"""The ``hfc-classify`` command line: a thin layer over the Python API."""
