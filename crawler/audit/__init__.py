"""The audit: records in, a judgement out. Imports ``crawler.store.records`` only.

``catalogue`` (one ``Rule`` object per rule: id, default severity, title, evidence, message,
remediation; ``Severity``), ``policy`` (the ``[audit]`` table), ``rules`` (``RuleEngine``: every rule's
check in one pass per config; the audit's public names), ``arns`` (destination ARNs), ``fold`` and
``summary`` (the streaming summary), ``report_model`` (``AuditReport`` and its JSON), ``drift`` (two
crawls compared).
"""
