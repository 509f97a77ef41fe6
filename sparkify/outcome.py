"""Whether the current script's transaction has committed: a signal after that point must not say
that nothing was committed (``sparkify.cli.run`` reads it; ``sparkify.pipeline.execute`` sets it)."""

committed = False
