"""The crawl pipeline: one lane per target, discovery feeding workers, every lane feeding one writer.

``job`` (what to crawl: targets, filters, ``--targets`` pairs, fingerprints, the start record),
``selection`` (globs and the ``--targets`` file), ``pipeline`` (``Crawl``: lanes, workers, the function
deadline; ``CrawlOutcome``), ``runner`` (builds the real clients and runs a crawl), ``shutdown``
(signals, ``--grace``, ``--deadline``), ``progress`` (the live line) and ``event_loop`` (uvloop when
installed). Invariant: every pair a lane takes ends as exactly one ``FunctionBatch``, taken once.
Imports ``wire``, ``store`` and ``settings`` only.
"""
