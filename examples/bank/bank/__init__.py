"""The bank transactions application: generator, the one feature definition, models, segments,
replay, services, and the Spark jobs' functions (see ../README.md)."""
