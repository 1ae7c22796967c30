"""What to crawl and how hard: flags > config file > environment, every value checked once at start-up.

``config`` resolves a run (``resolve_config`` → ``RunConfig``: its ``CrawlSettings`` and ``Target``
list), ``config_file`` reads and checks the TOML file (``SETTING_RULES``: what each setting may be),
``credentials`` finds keys where the aliyun CLI does (the secret goes to the signer, never to a log,
a record or an error), ``identity`` describes where a target's credentials come from (static keys, a
role to assume, RRSA/OIDC, the ECS RAM role, a credentials URI, an external process), ``endpoints``
checks accounts, regions and endpoint URLs (clear ``http`` only to loopback). Imports nothing of the
crawler but the error tree; its main names are re-exported here (every importer loads ``config``,
which loads the rest, anyway).
"""

from crawler.settings.config import CrawlSettings, RunConfig, Target, resolve_config
from crawler.settings.credentials import Credentials

__all__ = ["CrawlSettings", "Credentials", "RunConfig", "Target", "resolve_config"]
