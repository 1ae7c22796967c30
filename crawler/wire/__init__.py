"""The FC wire: how fcaudit talks to Function Compute, and the only place the aiohttp client is used.

``models`` the shared types (``Page``, the ``ListingClient`` protocol the crawl consumes, the
``RegionListingClient`` protocol ``fc3_listing`` consumes, the typed ``ClientOptions``); ``transport`` the
one ``Transport`` (session, limiter, retry, outage gate, capped read, error mapping) and ``open_session``;
``fc2_client`` / ``fc3_client`` what differs per API (paths, signing, answer shapes, "gone" codes) over a
``Transport``; ``fc3_listing`` FC 3.0 behind the crawl's three calls (``--api fc3|auto``); ``signing``
(shared with the emulator), ``ratelimit``, ``retry``, ``outage``, ``pager``, ``run_stats``;
``credential_provider`` (what signs each attempt), ``sts_client`` and ``metadata_client`` (STS, the ECS
metadata server and a credentials URI, through ``transport.exchange``).

Nothing is re-exported here: importing ``crawler.wire.models`` (as the crawl does) must not import aiohttp.
"""
