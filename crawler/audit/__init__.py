"""The audit: policy, rules, ARNs, wording, the summary fold, the report model, drift."""
