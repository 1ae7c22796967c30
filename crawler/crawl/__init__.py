"""The crawl pipeline: job, selection, lanes and workers, shutdown, progress, event loop."""
