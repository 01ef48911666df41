"""Small helpers shared by both packages: errors, atomic file output."""
