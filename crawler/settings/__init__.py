"""What to crawl and how hard: config, config file, credentials, endpoints."""
