"""The audit: records in, a judgement out. Imports ``crawler.store.records`` only.

``catalogue`` (one ``Rule`` object per rule: id, default severity, title, evidence, message,
remediation; ``Severity``), ``policy`` (the ``[audit]`` table), ``rules`` (``RuleEngine``: every rule's
check in one pass per config; the audit's public names), ``arns`` (destination ARNs), ``crossref`` (the
rules across functions, judged when the input is over), ``remediation`` (a finding's fix filled in),
``rollup`` (findings per function, for people), ``fold`` and
``summary`` (the streaming summary), ``report_model`` (``AuditReport`` and its JSON), ``drift`` (two
crawls compared).

The main names are re-exported here, all but ``drift``'s: every importer (the commands, the renderers)
loads the rest anyway, while a crawl loads ``drift`` only with ``--baseline``
(``tests/cli/test_cli_dispatch.py`` holds it to that).
"""

from crawler.audit.catalogue import RULES, Rule, Severity
from crawler.audit.policy import AuditPolicy, default_policy
from crawler.audit.report_model import AuditReport
from crawler.audit.rules import Finding, RuleEngine
from crawler.audit.summary import Summarizer

__all__ = [
    "RULES",
    "AuditPolicy",
    "AuditReport",
    "Finding",
    "Rule",
    "RuleEngine",
    "Severity",
    "Summarizer",
    "default_policy",
]
