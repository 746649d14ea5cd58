"""The language layer: normalise, match, classify. Pure: no I/O."""
