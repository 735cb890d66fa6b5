"""A real Label Studio server for local mode, and the simulated annotators who work in it."""
