"""The `notecheck` command line: the composition root that wires `model`, `training` and `serving`."""
