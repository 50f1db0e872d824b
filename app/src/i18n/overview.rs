//! Texts of the overview page.

pub(super) const TEXTS: &[(&str, &str, &str)] = &[
    ("overview.live_heading", "Live figures", "实时数据"),
    ("overview.rpm", "Requests / min", "请求数 / 分钟"),
    ("overview.error_rate", "{p} errors", "错误率 {p}"),
    ("overview.tpm", "Tokens / min", "Token / 分钟"),
    ("overview.in_flight", "Requests in flight", "进行中请求"),
    (
        "overview.of_capacity",
        "of {c} · {p} used",
        "容量 {c} · 已用 {p}",
    ),
    ("overview.rate_429", "Upstream 429 rate", "上游 429 比例"),
    (
        "overview.attempts",
        "of {n} upstream attempts",
        "共 {n} 次上游请求",
    ),
    ("overview.rate_529", "Upstream 529 rate", "上游 529 比例"),
    (
        "overview.refused",
        "{n} refused by key limits",
        "{n} 次被密钥限制拒绝",
    ),
    ("overview.today", "Today", "今日"),
    ("overview.today_keys", "New keys today", "今日新增密钥"),
    ("overview.today_requests", "Requests today", "今日请求"),
    ("overview.tokens", "{n} tokens", "{n} Token"),
    ("overview.today_cost", "Upstream cost today", "今日上游成本"),
    ("overview.pools", "Pool utilization", "号池利用率"),
    ("overview.pool", "Pool", "号池"),
    ("overview.pool_accounts", "Serving accounts", "可用账户"),
    (
        "overview.utilization",
        "In flight / capacity",
        "进行中 / 容量",
    ),
    (
        "overview.group_of",
        "Group {name} ({platform})",
        "分组 {name}（{platform}）",
    ),
    (
        "overview.no_accounts",
        "No accounts yet: add one on the Accounts page.",
        "还没有上游账户：请在“上游账户”页添加。",
    ),
    (
        "overview.presets",
        "Real spend per preset",
        "各预设的实际消耗",
    ),
    (
        "overview.presets_hint",
        "Average spend of the keys sold from each preset, against their quota.",
        "每个预设售出密钥的平均实际消耗与额度之比。",
    ),
    ("overview.preset", "Preset", "预设"),
    ("overview.preset_keys", "Keys", "密钥数"),
    ("overview.avg_spent", "Avg. spent", "平均消耗"),
    ("overview.of_quota", "Of quota", "占额度"),
    (
        "overview.no_preset_keys",
        "No keys were created from a preset yet.",
        "还没有从预设创建的密钥。",
    ),
    (
        "overview.attention",
        "Accounts needing attention",
        "需要关注的账户",
    ),
    (
        "overview.all_serving",
        "All accounts are serving normally.",
        "所有账户运行正常。",
    ),
    (
        "overview.cooldown_until",
        "Cooling down until {time}",
        "冷却至 {time}",
    ),
    ("overview.not_schedulable", "Not schedulable", "未参与调度"),
];
