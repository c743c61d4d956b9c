"""Reference adapters for extraction kind `custom` (imported by rendered recipes, needs torch)."""
