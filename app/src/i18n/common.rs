//! Texts shared by every page: buttons, states, statuses, errors, charts.

pub(super) const TEXTS: &[(&str, &str, &str)] = &[
    ("common.actions", "Actions", "操作"),
    (
        "common.bad_number",
        "Please enter valid numbers.",
        "请输入有效的数字。",
    ),
    ("common.cancel", "Cancel", "取消"),
    ("common.close", "Close", "关闭"),
    ("common.delete", "Delete", "删除"),
    ("common.edit", "Edit", "编辑"),
    ("common.loading", "Loading…", "加载中…"),
    ("common.save", "Save", "保存"),
    ("common.unlimited", "Unlimited", "不限"),
    ("common.working", "Working…", "处理中…"),
    (
        "error.validation",
        "Invalid {field}: {message}",
        "{field} 无效：{message}",
    ),
    (
        "error.conflict",
        "Refused: {message}",
        "操作被拒绝：{message}",
    ),
    ("status.active", "Active", "正常"),
    ("status.rate_limited", "Rate limited", "限流中"),
    ("status.overloaded", "Overloaded", "过载"),
    ("status.error", "Error", "异常"),
    ("status.disabled", "Disabled", "已停用"),
    ("keystatus.active", "Active", "有效"),
    ("keystatus.expired", "Expired", "已过期"),
    ("keystatus.exhausted", "Used up", "额度用尽"),
    ("keystatus.disabled", "Disabled", "已停用"),
    (
        "chart.no_data",
        "No traffic in this range yet.",
        "该时间段内还没有数据。",
    ),
    (
        "chart.loading",
        "The chart appears once the page has loaded.",
        "页面加载完成后显示图表。",
    ),
];
