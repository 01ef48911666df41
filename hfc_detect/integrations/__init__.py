"""Plug-ins for other frameworks' own loops (each module imports its framework on import)."""
