"""Package data: the demo detector's weights and their metadata (see docs/demo.md)."""
