"""mopscat operations."""
