"""config.yaml: frozen config objects, their loader and all-errors-at-once validation."""
