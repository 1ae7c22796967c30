"""The audit for people and programs: text, JSON, Markdown, metrics, HTML."""
