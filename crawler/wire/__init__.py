"""The FC wire: signing, transport, FC 2.0 and 3.0 clients, pager, limiter, retry."""
