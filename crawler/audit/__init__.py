"""The audit: the rule catalogue, policy, rules, ARNs, the summary fold, the report model, drift."""
