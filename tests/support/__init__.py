"""What the tests share: helpers, oracles, hostile servers."""
