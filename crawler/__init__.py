"""fcaudit: an asyncio auditing crawler for Alibaba Cloud Function Compute async-invocation settings."""

__version__ = "0.1.0"
