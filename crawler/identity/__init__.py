"""The identity stage: credentials at run time — fetched, refreshed, shared, and checked against targets.

``refreshing`` is the ``CredentialProvider`` of credentials that expire (refresh ahead of expiry, single
flight, a refusal remembered); ``cache`` builds one provider per credential source for the run (one
AssumeRole per base identity, role and external id, shared by every region of the account) and owns the
run's STS and metadata clients and the end record's ``sts`` counts; ``external`` runs an External
profile's ``process_command``; ``whoami`` asks STS GetCallerIdentity once per distinct identity, fills
an account left unknown and refuses a target whose credentials belong to another account.

It may import ``wire`` and ``settings``; ``crawl`` and ``app`` import it. Nothing is re-exported here.
"""
