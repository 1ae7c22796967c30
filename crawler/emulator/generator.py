"""Seeded FC accounts: services, functions and a realistic, audit-worthy mix of async-invoke configs.

The crawler and the audit are only as well tested as the data they meet, so a generated account holds
what real accounts hold: functions with no config, configs left at the defaults, retries 0–8, event ages
across the whole range, destinations of every ARN kind (MNS queue and topic, FC 2.0 and 3.0 functions,
EventBridge, RocketMQ) including cross-region, cross-account, malformed and self-referencing ones,
``statefulInvocation`` on and off, both field spellings (``service``/``function`` and
``serviceName``/``functionName``), a few unknown fields, and — at ``edge_rate`` — values outside the
documented ranges (retries 9, age 0, a missing field). A few "big" functions have more than 100
configs, and one "showcase" function holds every case at once so small accounts cover them all too.

Determinism: the skeleton (names, distribution) comes from ``random.Random(seed)``; each function's
details from its own ``random.Random(recipe)``, built on first touch. Same spec → byte-identical account,
and 100,000 functions cost only their names up front.

The generator knows the model, not the backend: ``plan_account`` returns the account's skeleton and the
``RecipeBuilder`` that fills it in, and ``backend.generate_account`` installs that into a ``Backend``.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Final

from crawler.emulator.model import AccountSpec, ConfigDict, FunctionEntry, TriggerDict, iso
from crawler.emulator.showcase import showcase_configs

SERVICE_WORDS: Final = (
    "orders",
    "billing",
    "payments",
    "media",
    "search",
    "auth",
    "inventory",
    "notify",
    "reports",
    "etl",
    "images",
    "video",
    "analytics",
    "crm",
    "gateway",
    "ledger",
)
FUNCTION_WORDS: Final = (
    "resize",
    "ingest",
    "export",
    "sync",
    "notify",
    "transform",
    "validate",
    "archive",
    "render",
    "index",
    "thumbnail",
    "webhook",
    "cron",
    "cleanup",
    "enrich",
    "dispatch",
)
ALIASES: Final = ("prod", "staging", "canary", "blue", "green", "beta", "stable", "dev")
RUNTIMES: Final = ("python3.10", "python3.9", "nodejs18", "nodejs16", "java11", "go1", "custom", "php7.2")
OTHER_REGIONS: Final = (
    "cn-shanghai",
    "cn-beijing",
    "cn-shenzhen",
    "cn-hongkong",
    "ap-southeast-1",
    "us-west-1",
    "eu-central-1",
)
AGES: Final = (86400, 86400, 3600, 60, 300, 1800, 7200, 21600, 43200, 172800, 604800, 1296000, 2592000)
ARN_KINDS: Final = ("mns-queue", "mns-topic", "fc2", "fc3", "eventbridge", "rocketmq")
ARN_WEIGHTS: Final = (30, 15, 20, 10, 15, 10)
EPOCH: Final = 1_546_300_800  # 2019-01-01T00:00:00Z
SPAN: Final = 5 * 365 * 86400
RECIPE_STRIDE: Final = 1 << 40
#: trigger sets by profile (a trigger type, or for eventbridge ``eventbridge:async|sync|unset``). The
#: first functions of every account take these in order, so even a small account holds each case: no
#: trigger, sync only, timer only, each async type, EventBridge async/sync/unset, a type the table does not
#: know, several triggers; the rest draw from ``TRIGGER_WEIGHTS``
TRIGGER_PROFILES: Final[tuple[tuple[str, ...], ...]] = (
    (),
    ("http",),
    ("timer",),
    ("oss",),
    ("eventbridge:async",),
    ("eventbridge:sync",),
    ("http", "timer"),
    ("log",),
    ("cdn_events",),
    ("mns_topic",),
    ("tablestore",),
    ("eventbridge:unset",),
    ("alb",),
    ("http", "tablestore"),
    ("http", "oss", "timer", "eventbridge:sync", "mns_topic"),
)
TRIGGER_WEIGHTS: Final[tuple[tuple[tuple[str, ...], int], ...]] = (
    ((), 40),
    (("http",), 20),
    (("timer",), 8),
    (("oss",), 8),
    (("eventbridge:async",), 3),
    (("eventbridge:sync",), 3),
    (("eventbridge:unset",), 1),
    (("log",), 4),
    (("mns_topic",), 3),
    (("cdn_events",), 2),
    (("tablestore",), 2),
    (("http", "timer"), 3),
    (("oss", "eventbridge:sync", "timer"), 3),
)


def _digits(tag: str, seed: int, count: int) -> str:
    rng = random.Random(f"{tag}:{seed}")
    return str(rng.randint(1, 9)) + "".join(str(rng.randrange(10)) for _ in range(count - 1))


def credentials_for_seed(seed: int) -> tuple[str, str]:
    """The access key pair an account generated from ``seed`` accepts."""
    rng = random.Random(f"credentials:{seed}")
    alphabet = "ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789"
    key_id = "LTAI" + "".join(rng.choice(alphabet) for _ in range(20))
    secret = "".join(rng.choice(alphabet) for _ in range(30))
    return key_id, secret


def _uuid(rng: random.Random) -> str:
    h = f"{rng.getrandbits(128):032x}"
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def spread(rng: random.Random, spec: AccountSpec) -> list[int]:
    """Functions per service: even, or Zipf-like (a few services with thousands, many with few)."""
    s, f = spec.services, spec.functions
    if s == 0:
        return []
    if spec.distribution == "uniform":
        return [f // s + (1 if i < f % s else 0) for i in range(s)]
    weights = [1.0 / (rank + 1) ** 1.3 for rank in range(s)]
    rng.shuffle(weights)
    floor = 1 if f >= s else 0
    rest = f - floor * s
    total = sum(weights)
    counts = [floor + int(rest * w / total) for w in weights]
    by_weight = sorted(range(s), key=lambda i: -weights[i])
    for i in range(f - sum(counts)):
        counts[by_weight[i % s]] += 1
    return counts


@dataclass(frozen=True, slots=True)
class PlannedService:
    """One generated service: its listing info and its functions, sorted by name, details still lazy."""

    name: str
    info: dict[str, Any]
    functions: tuple[FunctionEntry, ...]


@dataclass(frozen=True, slots=True)
class AccountPlan:
    """A generated account, ready to be installed into a ``Backend`` (``backend.generate_account``)."""

    account_id: str
    region: str
    access_key_id: str
    access_key_secret: str
    seed: int
    builder: RecipeBuilder
    services: tuple[PlannedService, ...]


def plan_account(spec: AccountSpec) -> AccountPlan:
    """The seeded account: services and function names now, function details on first touch."""
    rng = random.Random(spec.seed)
    account = spec.account_id or _digits("account", spec.seed, 16)
    key_id, secret = credentials_for_seed(spec.seed)
    big = set(rng.sample(range(spec.functions), min(spec.big_functions, spec.functions)))
    showcase = next((i for i in range(spec.functions) if i not in big), -1) if spec.showcase else -1
    index = 0
    services: list[PlannedService] = []
    for s_index, count in enumerate(spread(rng, spec)):
        sname = f"{rng.choice(SERVICE_WORDS)}-{s_index:04d}"
        info = _service_info(rng, sname, account)
        names = []
        for j in range(count):
            word = FUNCTION_WORDS[rng.randrange(len(FUNCTION_WORDS))]
            name = f"{word.capitalize()}_{j:05d}" if rng.random() < 0.1 else f"{word}-{j:05d}"
            if s_index == 0 and j == 1:  # the longest name FC allows
                name = (name + "-" + "x" * 128)[:128]
            names.append(name)
        names.sort()
        entries = []
        for name in names:
            entries.append(
                FunctionEntry(
                    sname,
                    name,
                    recipe=spec.seed * RECIPE_STRIDE + index,
                    big=index in big,
                    showcase=index == showcase,
                )
            )
            index += 1
        services.append(PlannedService(sname, info, tuple(entries)))
    builder = RecipeBuilder(spec, account)
    builder.functions = tuple((e.service, e.name) for svc in services for e in svc.functions)
    return AccountPlan(
        account_id=account,
        region=spec.region,
        access_key_id=key_id,
        access_key_secret=secret,
        seed=spec.seed,
        builder=builder,
        services=tuple(services),
    )


def _service_info(rng: random.Random, name: str, account: str) -> dict[str, Any]:
    created = EPOCH + rng.randrange(SPAN)
    return {
        "serviceName": name,
        "serviceId": _uuid(rng),
        "description": f"{name.split('-')[0]} workloads",
        "role": f"acs:ram::{account}:role/aliyunfcdefaultrole",
        "logConfig": {
            "project": f"fc-logs-{account}",
            "logstore": name,
            "enableRequestMetrics": True,
            "enableInstanceMetrics": rng.random() < 0.5,
            "logBeginRule": "None",
        },
        "vpcConfig": {"vpcId": "", "vSwitchIds": [], "securityGroupId": ""},
        "internetAccess": True,
        "tracingConfig": {},
        "createdTime": iso(created),
        "lastModifiedTime": iso(created + rng.randrange(86400 * 300)),
    }


#: how often a plain FC destination names a function of the account (the rest name one that does not
#: exist: deleted since, or a typo: ``dangling-fc-destination``)
FC_TARGET_EXISTS: Final = 0.9


class RecipeBuilder:
    """Builds one generated function's details from its recipe: a ``model.FunctionBuilder`` that the
    ``Backend`` calls on a function's first touch."""

    def __init__(self, spec: AccountSpec, account: str) -> None:
        self.spec = spec
        self.account = account
        self.region = spec.region
        self.regions = tuple(r for r in OTHER_REGIONS if r != spec.region)
        #: the account's functions (service, name): a plain FC destination names one of them, as in a
        #: real account, most of the time (``arn_of``)
        self.functions: tuple[tuple[str, str], ...] = ()

    def build_info(self, entry: FunctionEntry) -> dict[str, Any]:
        rng = random.Random((entry.recipe or 0) << 1)
        runtime = rng.choice(RUNTIMES)
        handler = {"java11": "example.App::handleRequest", "go1": "main"}.get(runtime, "index.handler")
        created = EPOCH + rng.randrange(SPAN)
        return {
            "functionName": entry.name,
            "functionId": _uuid(rng),
            "description": "",
            "runtime": runtime,
            "handler": handler,
            "memorySize": rng.choice((128, 256, 512, 1024, 2048)),
            "timeout": rng.choice((3, 10, 60, 300, 600)),
            "codeSize": rng.randrange(1_000, 50_000_000),
            "codeChecksum": str(rng.getrandbits(63)),
            "instanceType": "e1",
            "instanceConcurrency": 1,
            "createdTime": iso(created),
            "lastModifiedTime": iso(created + rng.randrange(86400 * 300)),
        }

    def build_configs(self, entry: FunctionEntry) -> tuple[bool, list[ConfigDict]]:
        rng = random.Random(((entry.recipe or 0) << 1) | 1)
        if entry.showcase:
            return False, showcase_configs(
                entry, self.region, lambda kind, variant, q: self.arn_of(rng, kind, variant, entry, q)
            )
        long_names = rng.random() < 0.15
        count = rng.randint(101, 240) if entry.big else self._count(rng)
        created = EPOCH + rng.randrange(SPAN)
        return long_names, [
            self._config(rng, entry, q, long_names, created) for q in self._qualifiers(rng, count)
        ]

    def build_triggers(self, entry: FunctionEntry) -> list[TriggerDict]:
        """The function's triggers, FC 2.0-shaped (from their own seeded stream: the rest of the function
        is unchanged by them)."""
        recipe = entry.recipe or 0
        rng = random.Random(f"triggers:{recipe}")
        index = recipe % RECIPE_STRIDE
        if index < len(TRIGGER_PROFILES):
            profile = TRIGGER_PROFILES[index]
        else:
            profiles, weights = zip(*TRIGGER_WEIGHTS, strict=True)
            profile = rng.choices(profiles, weights)[0]
        created = EPOCH + rng.randrange(SPAN)
        return [self._trigger(rng, entry, spec, i, created) for i, spec in enumerate(profile)]

    def _trigger(
        self, rng: random.Random, entry: FunctionEntry, spec: str, i: int, created: int
    ) -> TriggerDict:
        kind, _, variant = spec.partition(":")
        region, uid = self.region, self.account
        word = rng.choice(SERVICE_WORDS)
        config: dict[str, Any]
        source = ""
        role = f"acs:ram::{uid}:role/aliyun{kind.replace('_', '')}role"
        if kind == "http":
            config = {"authType": rng.choice(("anonymous", "function")), "methods": ["GET", "POST"]}
            role = ""
        elif kind == "timer":
            config = {
                "cronExpression": f"@every {rng.choice((1, 5, 15, 60))}m",
                "enable": True,
                "payload": "",
            }
            role = ""
        elif kind == "oss":
            config = {
                "events": ["oss:ObjectCreated:*"],
                "filter": {"key": {"prefix": f"{word}/", "suffix": ""}},
            }
            source = f"acs:oss:{region}:{uid}:{word}-bucket"
        elif kind == "log":
            config = {
                "sourceConfig": {"logstore": f"{word}-source"},
                "jobConfig": {"maxRetryTime": 3, "triggerInterval": 60},
                "logConfig": {"project": f"fc-logs-{uid}", "logstore": f"{word}-etl"},
                "enable": True,
            }
            source = f"acs:log:{region}:{uid}:project/{word}-project"
        elif kind == "cdn_events":
            config = {
                "eventName": "CachedObjectsRefreshed",
                "eventVersion": "1.0.0",
                "filter": {"domain": [f"{word}.example.com"]},
            }
            source = f"acs:cdn:*:{uid}"
        elif kind == "mns_topic":
            config = {"notifyContentFormat": "JSON", "notifyStrategy": "BACKOFF_RETRY"}
            source = f"acs:mns:{region}:{uid}:/topics/{word}-events"
        elif kind == "tablestore":
            config = {}
            source = f"acs:ots:{region}:{uid}:instance/{word}/table/{word}-table"
        elif kind == "eventbridge":
            config = {
                "triggerEnable": True,
                "eventSourceConfig": {"eventSourceType": rng.choice(("Default", "RocketMQ", "MNS", "Kafka"))},
                "eventRuleFilterPattern": "{}",
            }
            if variant != "unset":
                config["asyncInvocationType"] = variant == "async"
        else:  # a type this emulator's table does not know (FC adds types)
            config = {"listenerId": f"lsn-{rng.getrandbits(32):08x}"}
        return {
            "triggerName": f"{kind.replace('_', '-')}-{i}",
            "triggerId": _uuid(rng),
            "triggerType": kind,
            "triggerConfig": config,
            "sourceArn": source,
            "invocationRole": role,
            "qualifier": rng.choice(("LATEST", "LATEST", "prod")),
            "createdTime": iso(created),
            "lastModifiedTime": iso(created + rng.randrange(86400 * 100)),
        }

    def _count(self, rng: random.Random) -> int:
        k = self.spec.max_qualifiers
        r = rng.random()
        if r < 0.30:
            return 0
        if r < 0.70 or k == 1:
            return 1
        if r < 0.90 or k <= 3:
            return rng.randint(2, min(3, k))
        return rng.randint(4, k)

    def _qualifiers(self, rng: random.Random, count: int) -> list[str]:
        if count == 0:
            return []
        quals = ["" if rng.random() < 0.1 else "LATEST"] if rng.random() < 0.85 else []
        remaining = count - len(quals)
        n_alias = rng.randint(0, min(len(ALIASES), remaining, 2 if count > 8 else remaining))
        quals += rng.sample(ALIASES, n_alias)
        n_version = remaining - n_alias
        quals += [str(v) for v in sorted(rng.sample(range(1, 2 * n_version + 10), n_version))]
        return quals

    def _config(
        self, rng: random.Random, entry: FunctionEntry, qualifier: str, long_names: bool, created: int
    ) -> ConfigDict:
        names = ("serviceName", "functionName") if long_names else ("service", "function")
        config: ConfigDict = {
            names[0]: entry.service,
            names[1]: entry.name,
            "qualifier": qualifier,
            "createdTime": iso(created),
            "lastModifiedTime": iso(created + rng.randrange(86400 * 400)),
        }
        if rng.random() < 0.2:  # left at the defaults
            config.update(
                destinationConfig={},
                maxAsyncRetryAttempts=3,
                maxAsyncEventAgeInSeconds=86400,
                statefulInvocation=False,
            )
        else:
            config["destinationConfig"] = self._destinations(rng, entry, qualifier)
            config["maxAsyncRetryAttempts"] = rng.choice((3, 3, 0, 0, 1, 2, 4, 5, 6, 8))
            age = rng.choice(AGES)
            config["maxAsyncEventAgeInSeconds"] = rng.randint(1, 2592000) if age == 1296000 else age
            config["statefulInvocation"] = rng.random() < 0.3
        if rng.random() < self.spec.edge_rate:
            self._edge(rng, config)
        if rng.random() < 0.03:
            config["jobConfig"] = {"maxConcurrency": rng.randint(1, 100)}  # a field we do not know
        return config

    def _edge(self, rng: random.Random, config: ConfigDict) -> None:
        """One value outside what the documentation allows, as real accounts sometimes hold."""
        pick = rng.randrange(5)
        if pick == 0:
            config["maxAsyncRetryAttempts"] = rng.choice((9, 10, -1))
        elif pick == 1:
            config["maxAsyncEventAgeInSeconds"] = rng.choice((0, 2592001, -60))
        elif pick == 2:
            del config["maxAsyncEventAgeInSeconds"]
        elif pick == 3:
            del config["maxAsyncRetryAttempts"]
        else:
            config["destinationConfig"] = None

    def _destinations(self, rng: random.Random, entry: FunctionEntry, qualifier: str) -> dict[str, Any]:
        r = rng.random()
        out: dict[str, Any] = {}
        if r < 0.35:  # no destinations
            return out
        if r >= 0.65:  # 0.65-0.75 success only, above both
            out["onSuccess"] = {"destination": self.arn(rng, entry, qualifier)}
        if r < 0.65 or r >= 0.75:
            out["onFailure"] = {"destination": self.arn(rng, entry, qualifier)}
        return out

    def arn(self, rng: random.Random, entry: FunctionEntry, qualifier: str) -> str:
        """A destination ARN: mostly ordinary, sometimes cross-region/account, malformed or self."""
        v = rng.random()
        variant = (
            "plain"
            if v < 0.80
            else "region"
            if v < 0.88
            else "account"
            if v < 0.94
            else "malformed"
            if v < 0.97
            else "self"
        )
        kind = rng.choices(ARN_KINDS, ARN_WEIGHTS)[0]
        return self.arn_of(rng, kind, variant, entry, qualifier)

    def arn_of(
        self, rng: random.Random, kind: str, variant: str, entry: FunctionEntry, qualifier: str
    ) -> str:
        region, uid = self.region, self.account
        if variant == "self":
            if kind == "fc3":
                return f"acs:fc:{region}:{uid}:functions/{entry.name}"
            where = f"services/{entry.service}.{qualifier or 'LATEST'}/functions/{entry.name}"
            return f"acs:fc:{region}:{uid}:{where}"
        if variant == "malformed":
            return rng.choice(
                (
                    "not-an-arn",
                    "",
                    f"acs:mns:{region}::/queues/dlq/messages",
                    f"acs:fc:{region}:{uid}:services/{entry.service}/functions",
                    f"acs:mns:{region}:{uid}:/queues//messages",
                    f"arn:aws:sqs:us-east-1:{uid}:dlq",
                    f"acs:fc:{region}:{uid}:functions/",
                    "acs:eventbridge:::",
                )
            )
        if variant == "region":
            region = rng.choice(self.regions)
        elif variant == "account":
            uid = str(rng.randint(10**15, 10**16 - 1))
        word = rng.choice(SERVICE_WORDS)
        if kind == "mns-queue":
            return f"acs:mns:{region}:{uid}:/queues/{word}-dlq/messages"
        if kind == "mns-topic":
            return f"acs:mns:{region}:{uid}:/topics/{word}-events/messages"
        if (
            kind in ("fc2", "fc3")
            and variant == "plain"
            and self.functions
            and rng.random() < FC_TARGET_EXISTS
        ):
            service, name = self.functions[rng.randrange(len(self.functions))]
            if kind == "fc3":  # FC 3.0 shows an FC 2.0 function as service$function
                return f"acs:fc:{region}:{uid}:functions/{service}${name}"
            return f"acs:fc:{region}:{uid}:services/{service}.LATEST/functions/{name}"
        if kind == "fc2":
            target = f"{rng.choice(FUNCTION_WORDS)}-handler"
            where = f"services/{word}-{rng.randrange(100):04d}.LATEST/functions/{target}"
            return f"acs:fc:{region}:{uid}:{where}"
        if kind == "fc3":
            return f"acs:fc:{region}:{uid}:functions/{rng.choice(FUNCTION_WORDS)}-{word}"
        if kind == "eventbridge":
            return f"acs:eventbridge:{region}:{uid}:eventbus/{rng.choice(('default', word + '-bus'))}"
        return f"acs:mq:{region}:{uid}:/instances/MQ_INST_{uid}_{rng.getrandbits(32):08x}/topic/{word}-topic"
