//! The pages' two languages: Chinese (default) and English, from `?lang=` or the `minyi_lang`
//! cookie, and the message table.

use axum::http::request::Parts;
use minyi_domain::request::State;
use minyi_domain::unit::Role;

/// The cookie that remembers the chosen language.
pub const LANG_COOKIE: &str = "minyi_lang";

/// A page language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    /// 简体中文
    #[default]
    Zh,
    /// English
    En,
}

/// (key, Chinese, English).
const MESSAGES: &[(&str, &str, &str)] = &[
    ("site", "民意速办", "Minyi Citizen Requests"),
    ("tagline", "12345 诉求一网通办", "The 12345 hotline online"),
    ("switch", "English", "中文"),
    ("skip", "跳到正文", "Skip to content"),
    ("portal", "市民服务", "Citizen services"),
    ("submit_title", "我要反映", "Submit a request"),
    ("submit_enterprise", "企业诉求", "Enterprise request"),
    (
        "submit_hint",
        "请如实填写，我们会尽快转交责任单位办理。",
        "Describe the problem; we pass it to the unit in charge.",
    ),
    ("track_title", "查询进度", "Track a request"),
    ("staff_login", "工作人员登录", "Staff sign-in"),
    ("category", "诉求类别", "Category"),
    (
        "category_search",
        "搜索类别（如：噪音、占道）",
        "Search categories (e.g. noise)",
    ),
    (
        "category_none",
        "没有匹配的类别，可不选，由工作人员分类",
        "No matching category; leave it, staff will classify",
    ),
    ("content", "诉求内容", "What happened"),
    ("title_field", "标题（可选）", "Title (optional)"),
    ("district", "区", "District"),
    ("street", "街道", "Street"),
    ("community", "社区", "Community"),
    ("choose", "请选择", "Choose"),
    ("address", "详细地址", "Address"),
    ("phone", "联系电话", "Phone"),
    ("name_optional", "姓名（可选）", "Name (optional)"),
    ("enterprise_name", "企业名称", "Enterprise name"),
    ("send", "提交", "Submit"),
    (
        "received_ok",
        "已受理，请记下您的查询码",
        "Received. Keep your tracking code",
    ),
    ("tracking_code", "查询码", "Tracking code"),
    ("phone_last4", "手机号后四位", "Last 4 digits of your phone"),
    ("lookup", "查询", "Look up"),
    ("state", "状态", "State"),
    ("received_at", "受理时间", "Received"),
    ("handling_unit", "承办单位", "Handling unit"),
    ("reply", "答复", "Reply"),
    ("handling_due", "办理时限", "Handling deadline"),
    ("timeline", "办理过程", "Timeline"),
    (
        "verify_hint",
        "输入手机号后四位后可查看详情和办理过程。",
        "Enter the last 4 digits of your phone to see details and the timeline.",
    ),
    (
        "verify_failed",
        "手机号后四位不匹配",
        "The last 4 digits do not match",
    ),
    ("rate_title", "评价办理结果", "Rate the result"),
    ("satisfied", "满意", "Satisfied"),
    ("basically_satisfied", "基本满意", "Basically satisfied"),
    ("unsatisfied", "不满意", "Unsatisfied"),
    ("solved", "问题已解决", "The problem is solved"),
    ("comment", "意见（可选）", "Comment (optional)"),
    ("rate_send", "提交评价", "Send rating"),
    ("rated_thanks", "感谢您的评价", "Thank you for your rating"),
    ("username", "用户名", "Username"),
    ("password", "密码", "Password"),
    ("sign_in", "登录", "Sign in"),
    ("sign_out", "退出", "Sign out"),
    (
        "bad_credentials",
        "用户名或密码错误",
        "Wrong username or password",
    ),
    (
        "account_locked",
        "登录失败次数过多，账号已临时锁定，请稍后再试",
        "Too many failed sign-ins: the account is locked for a while; try again later",
    ),
    ("dispatch_console", "分拨台", "Dispatch console"),
    ("unit_workbench", "单位工作台", "Unit workbench"),
    ("supervision", "督办", "Supervision"),
    ("dashboard", "数据看板", "Dashboard"),
    ("kpi", "考核指标", "KPIs"),
    ("bulletin", "通报", "Bulletin"),
    ("ranking", "综合排名", "Ranking"),
    (
        "kpi_trend",
        "每日办结量与按时办结率",
        "Completed per day and on-time rate",
    ),
    ("from", "起", "From"),
    ("to", "止", "To"),
    ("group_by", "分组", "Group by"),
    ("g_unit", "责任单位", "Unit"),
    ("g_district", "区", "District"),
    ("g_street", "街道", "Street"),
    ("g_community", "社区", "Community"),
    ("g_matter", "事项大类", "Major category"),
    ("g_channel", "渠道", "Channel"),
    ("show", "查询", "Show"),
    ("download", "导出", "Download"),
    ("name", "名称", "Name"),
    ("received", "受理", "Received"),
    ("completed", "办结", "Completed"),
    ("on_time_signing", "按时签收率", "Signed on time"),
    ("avg_handling", "平均办理时长（小时）", "Avg handling (h)"),
    ("resolution_rate", "解决率", "Resolved"),
    ("return_rate", "退单率", "Returned"),
    ("reopen_rate", "重办率", "Reopened"),
    ("auto_dispatch", "智能派单率", "Auto-dispatched"),
    ("score", "得分", "Score"),
    ("rank", "名次", "Rank"),
    ("drill", "下钻", "Drill down"),
    ("weekly", "周通报", "Weekly"),
    ("monthly", "月通报", "Monthly"),
    ("this_period", "本期", "This period"),
    ("last_period", "上期", "Previous period"),
    ("commended", "通报表扬", "Commended"),
    ("criticised", "通报批评", "Criticised"),
    ("print", "打印", "Print"),
    (
        "your_unit_only",
        "仅显示本单位数据",
        "Your unit's figures only",
    ),
    ("to_dispatch", "待分拨", "To dispatch"),
    ("duplicates", "疑似重复件", "Likely duplicates"),
    ("repeats", "疑似重复", "Repeats"),
    ("merge_into_parent", "并入主件", "Merge into it"),
    ("not_a_duplicate", "不是重复件", "Not a duplicate"),
    ("hotspots", "热点预警", "Hot-spot alerts"),
    ("hotspot_count", "窗口内诉求", "requests in window"),
    ("hotspot_baseline", "平时", "usually"),
    ("acknowledge", "已知悉", "Acknowledge"),
    ("returned_queue", "退单待裁决", "Returned, to rule on"),
    ("extension_queue", "延期申请", "Extension requests"),
    ("suggested_unit", "建议主办单位", "Suggested lead unit"),
    ("dispatch_to", "派单", "Dispatch"),
    ("not_classified", "未分类", "Not classified"),
    ("classify_first", "先分类", "Classify first"),
    ("ruling", "裁决意见", "Ruling"),
    ("arbitrate", "裁决并派单", "Rule and dispatch"),
    ("approve", "批准", "Approve"),
    ("refuse", "驳回", "Refuse"),
    ("reason", "理由", "Reason"),
    ("legal_basis", "依据", "Legal basis"),
    ("working_days", "延期工作日", "Working days"),
    ("sign", "签收", "Sign for"),
    ("reply_send", "办结答复", "Reply and complete"),
    ("return", "退单", "Return"),
    ("ask_extension", "申请延期", "Ask for extension"),
    ("urge", "催办", "Urge"),
    ("note", "说明", "Note"),
    ("deadline", "时限", "Deadline"),
    ("remaining", "剩余", "Left"),
    ("overdue", "已超期", "Overdue"),
    ("working_hours", "工作小时", "working hours"),
    ("due_soon", "即将到期（24小时内）", "Due within 24 hours"),
    ("overdue_list", "已超期", "Overdue"),
    ("enterprise_workbench", "助企工作台", "Enterprise service"),
    ("my_enterprises", "包联企业", "Our enterprises"),
    ("visits_due", "待走访", "Visits due"),
    ("visits_overdue", "逾期未走访", "Overdue"),
    ("programme_kpis", "助企考核指标", "Programme KPIs"),
    ("last_visit", "上次走访", "Last visit"),
    ("next_due", "应走访日期", "Visit due"),
    ("log_visit", "记录走访", "Log a visit"),
    ("needs_and_matches", "企业需求与对接", "Needs and matches"),
    ("need_kind", "需求类型", "Kind"),
    ("need_title", "需求", "Need"),
    ("need_detail", "需求说明", "Details"),
    ("matches", "推荐对接", "Matches"),
    ("match_proposed", "已推荐", "Proposed"),
    ("match_contacted", "已对接", "Contacted"),
    ("match_agreed", "已达成", "Agreed"),
    ("match_declined", "未达成", "Declined"),
    ("industry", "行业", "Industry"),
    ("visit_date", "走访日期", "Date"),
    ("visit_notes", "走访记录", "Notes"),
    (
        "visit_problems",
        "发现的问题（每行一条，将转为企业诉求）",
        "Problems found (one per line; each becomes an enterprise request)",
    ),
    (
        "visit_problems_hint",
        "例如：厂区门口道路破损，货车无法通行",
        "e.g. the road at the gate is broken",
    ),
    (
        "post_need",
        "登记企业需求（找市场、找资金……）",
        "Post a need (markets, funding …)",
    ),
    ("visit_logged", "走访已记录", "Visit logged"),
    (
        "no_problems",
        "本次走访未发现问题",
        "No problems were raised",
    ),
    (
        "no_matches",
        "暂无匹配资源，可稍后重新匹配",
        "No matching resource yet",
    ),
    ("resource", "资源", "Resource"),
    ("similarity", "相似度", "Similarity"),
    ("service_team", "服务队", "Team"),
    ("export_csv", "导出 CSV", "Export CSV"),
    ("visits_done", "已走访", "Visits done"),
    ("visits_planned", "应走访", "Visits planned"),
    ("requests_raised", "收集诉求", "Requests raised"),
    ("requests_resolved", "已办结", "Resolved"),
    ("matches_agreed", "对接成功", "Matches made"),
    ("needs", "需求", "needs"),
    ("visits_and_matches", "走访与对接", "Visits and matches"),
    ("teams", "服务队数", "Teams"),
    ("empty", "暂无", "Nothing here"),
    ("search_requests", "诉求检索", "Search requests"),
    ("search_text", "检索内容", "Search for"),
    (
        "search_placeholder",
        "如：路灯 不亮（每个词至少两个字）",
        "e.g. 路灯 不亮 (each term 2 characters or more)",
    ),
    (
        "search_hint",
        "在标题、内容、地址和答复中查找，多个词以空格分隔，须全部出现。",
        "Searches titles, texts, addresses and replies; separate terms with spaces, all must occur.",
    ),
    ("search_button", "检索", "Search"),
    ("search_none", "没有找到匹配的诉求", "No request matches"),
    ("all_states", "全部状态", "All states"),
    ("pages", "分页", "Pages"),
    ("prev_page", "上一页", "Previous"),
    ("next_page", "下一页", "Next"),
    ("total", "共", "Total"),
    ("backlog", "各单位积压", "Backlog by unit"),
    ("open", "打开", "Open"),
    ("requester", "诉求人", "Requester"),
    ("matter", "事项", "Matter"),
    ("division", "区划", "Division"),
    ("lead_unit", "主办单位", "Lead unit"),
    ("actions", "操作", "Actions"),
    ("by_state", "各状态数量", "Requests by state"),
    ("on_time_rate", "按时办结率", "Completed on time"),
    ("satisfaction_rate", "满意率", "Satisfaction"),
    ("all_requests", "诉求总量", "All requests"),
    (
        "volume_trend",
        "近30天受理量",
        "Requests per day, last 30 days",
    ),
    (
        "category_mix",
        "类别构成（近30天）",
        "Category mix, last 30 days",
    ),
    (
        "volume_by_place",
        "各区、街道受理量（近30天）",
        "Requests by district and street, last 30 days",
    ),
    (
        "hot_matters",
        "上升最快的事项（近7天）",
        "Fastest-rising matters, last 7 days",
    ),
    (
        "hot_places",
        "上升最快的街道（近7天）",
        "Fastest-rising streets, last 7 days",
    ),
    ("this_week", "近7天", "Last 7 days"),
    ("weekly_before", "此前周均", "Weekly mean before"),
    ("rise", "增幅", "Rise"),
    ("none_rising", "暂无明显上升", "Nothing is rising markedly"),
    ("error", "出错了", "Something went wrong"),
    ("back_home", "返回首页", "Back to the start"),
    ("pending_extension", "待批延期", "Pending extension"),
    ("days", "个工作日", "working days"),
    ("classify", "分类", "Classify"),
    ("choose_unit", "或选择其他单位", "or choose another unit"),
    ("no_deadline", "无", "none"),
    ("citizen", "市民", "Citizen"),
    ("enterprise", "企业", "Enterprise"),
];

impl Lang {
    /// Parses `zh` or `en`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "zh" | "zh-CN" => Some(Lang::Zh),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The code used in links and the cookie.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Zh => "zh",
            Lang::En => "en",
        }
    }

    /// The `lang` attribute of the page.
    pub fn html(self) -> &'static str {
        match self {
            Lang::Zh => "zh-CN",
            Lang::En => "en",
        }
    }

    /// The other language.
    pub fn other(self) -> Self {
        match self {
            Lang::Zh => Lang::En,
            Lang::En => Lang::Zh,
        }
    }

    /// The language a request asks for: `?lang=` first, then the cookie, else Chinese.
    pub fn from_parts(parts: &Parts) -> Self {
        let from_query = parts.uri.query().and_then(|q| {
            q.split('&')
                .filter_map(|kv| kv.split_once('='))
                .find(|(k, _)| *k == "lang")
                .and_then(|(_, v)| Lang::parse(v))
        });
        from_query
            .or_else(|| super::cookie_value(&parts.headers, LANG_COOKIE).and_then(Lang::parse))
            .unwrap_or_default()
    }

    /// The message for a key (the key itself when the table lacks it).
    pub fn t(self, key: &str) -> &'static str {
        match MESSAGES.iter().find(|(k, _, _)| *k == key) {
            Some((_, zh, en)) => match self {
                Lang::Zh => zh,
                Lang::En => en,
            },
            None => "?",
        }
    }

    /// A state's label.
    pub fn state(self, state: State) -> &'static str {
        match self {
            Lang::Zh => state.label_zh(),
            Lang::En => match state {
                State::Received => "To dispatch",
                State::Dispatched => "To sign for",
                State::Handling => "Being handled",
                State::Paused => "Paused",
                State::Returned => "Returned",
                State::Replied => "Replied, to rate",
                State::Closed => "Closed",
                State::Merged => "Merged",
                State::Split => "Split",
            },
        }
    }

    /// A state's label from its stored name.
    pub fn state_name(self, name: &str) -> &'static str {
        State::parse(name).map(|s| self.state(s)).unwrap_or("?")
    }

    /// A role's label.
    pub fn role(self, role: Role) -> &'static str {
        let (zh, en) = match role {
            Role::Requester => ("诉求人", "Requester"),
            Role::Operator => ("话务员", "Operator"),
            Role::Dispatcher => ("分拨员", "Dispatcher"),
            Role::UnitHandler => ("承办人", "Unit handler"),
            Role::UnitLeader => ("单位负责人", "Unit leader"),
            Role::Supervisor => ("督办员", "Supervisor"),
            Role::Admin => ("管理员", "Administrator"),
            Role::ServiceTeam => ("助企专员", "Service team"),
            Role::System => ("系统", "System"),
        };
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }

    /// An event's label from its stable name.
    pub fn event(self, name: &str) -> &'static str {
        let (zh, en) = match name {
            "received" => ("受理", "Received"),
            "classified" => ("分类", "Classified"),
            "answered_at_intake" => ("即时办结", "Answered at intake"),
            "dispatched" => ("派单", "Dispatched"),
            "arbitrated" => ("裁决", "Arbitrated"),
            "signed" => ("签收", "Signed for"),
            "co_unit_opinion" => ("协办意见", "Co-unit opinion"),
            "replied" => ("办结", "Replied"),
            "returned" => ("退单", "Returned"),
            "extension_requested" => ("延期申请", "Extension requested"),
            "extension_approved" => ("延期批准", "Extension approved"),
            "extension_refused" => ("延期驳回", "Extension refused"),
            "paused" => ("挂起", "Paused"),
            "resumed" => ("恢复", "Resumed"),
            "merged_into" => ("并案", "Merged"),
            "duplicate_absorbed" => ("并入重复件", "Duplicate absorbed"),
            "split_into" => ("拆分", "Split"),
            "urged" => ("催办", "Urged"),
            "rated" => ("回访评价", "Rated"),
            "reopened" => ("重办", "Reopened"),
            "closed" => ("归档", "Closed"),
            "due_soon" => ("临期预警", "Due soon"),
            "escalated" => ("超期督办", "Escalated"),
            _ => ("其他", "Other"),
        };
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

/// Percent-encodes a string for a query parameter.
pub fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Lang {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Lang::from_parts(parts))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_key_has_both_languages_and_keys_are_unique() {
        for (i, (key, zh, en)) in MESSAGES.iter().enumerate() {
            assert!(!zh.is_empty() && !en.is_empty(), "{key}");
            assert!(
                MESSAGES[i + 1..].iter().all(|(k, _, _)| k != key),
                "duplicate key {key}"
            );
        }
        assert_eq!(Lang::Zh.t("sign_in"), "登录");
        assert_eq!(Lang::En.t("sign_in"), "Sign in");
    }

    #[test]
    fn url_encoding_keeps_paths_and_escapes_queries() {
        assert_eq!(url_encode("/track?code=A&x"), "/track%3Fcode%3DA%26x");
    }
}
