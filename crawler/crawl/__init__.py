"""The crawl pipeline: one lane per target, discovery feeding workers, every lane feeding one writer.

``job`` (``CrawlJob``: targets, filters, ``--targets`` pairs, fingerprints, the start record),
``selection`` (globs and the ``--targets`` file), ``pipeline`` (``Crawl``: lanes, workers, the function
deadline; ``CrawlOutcome``), ``runner`` (``open_clients`` builds the real clients, ``execute`` runs a
crawl), ``shutdown`` (signals, ``--grace``, ``--deadline``), ``progress`` (the live line) and
``event_loop`` (uvloop when installed). Invariant: every pair a lane takes ends as exactly one
``FunctionBatch``, taken once. Imports ``wire``, ``store`` and ``settings`` only. The main names are
re-exported here: the commands that crawl load the whole package anyway.
"""

from crawler.crawl.job import CrawlJob
from crawler.crawl.pipeline import Crawl, CrawlOutcome
from crawler.crawl.runner import execute, open_clients

__all__ = ["Crawl", "CrawlJob", "CrawlOutcome", "execute", "open_clients"]
