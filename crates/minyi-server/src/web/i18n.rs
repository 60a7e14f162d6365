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
    ("intake_title", "热线受理", "Hotline intake"),
    (
        "intake_keys",
        "快捷键：Ctrl+Enter 提交 · Alt+P 电话 · Alt+T 内容 · Alt+C 类别 · Alt+A 地址",
        "Keys: Ctrl+Enter files · Alt+P phone · Alt+T text · Alt+C category · Alt+A address",
    ),
    (
        "intake_filed",
        "已受理，请告知来电人查询码",
        "Filed. Give the caller the tracking code",
    ),
    (
        "intake_answered",
        "已直接答复办结，请告知来电人查询码",
        "Answered and completed. Give the caller the tracking code",
    ),
    ("open_request", "查看诉求", "Open the request"),
    ("caller_phone", "来电号码", "Caller's phone"),
    ("file_call", "受理", "File the call"),
    (
        "engine_suggestion",
        "智能引擎建议",
        "The engine's suggestion",
    ),
    (
        "suggestion_waiting",
        "输入诉求内容后显示建议",
        "The suggestion appears as you type the text",
    ),
    ("chosen_by_operator", "已选", "chosen"),
    (
        "no_category_yet",
        "暂无建议，请搜索选择类别",
        "No suggestion yet; search for a category",
    ),
    ("urgency", "紧急程度", "Urgency"),
    ("urgency_ordinary", "一般", "Ordinary"),
    ("urgency_urgent", "紧急", "Urgent"),
    ("urgency_emergency", "特急", "Emergency"),
    ("place_none", "未识别到地点", "No place recognised"),
    ("place_unique", "识别依据", "found from"),
    ("place_ambiguous", "多处可能，依据", "ambiguous, from"),
    ("place_conflict", "地名矛盾，依据", "conflicting names:"),
    ("possible_duplicate", "可能重复", "Possible duplicate"),
    ("knowledge_hits", "知识库", "Knowledge base"),
    ("knowledge_none", "没有匹配的知识", "No matching entry"),
    ("matched_words", "匹配词", "Matched words"),
    ("answer_and_close", "直接答复办结", "Answer and close"),
    (
        "answer_needs_consultation",
        "直接答复须为咨询类诉求，请先选择咨询类别",
        "Only a consultation can be answered at once: choose a consultation category",
    ),
    (
        "decision_no_model",
        "选择类别后按职责清单显示",
        "shown from the list once a category is chosen",
    ),
    (
        "decision_below_threshold",
        "置信度不足，由分拨员确认",
        "not sure enough; a dispatcher confirms",
    ),
    (
        "decision_not_a_leaf",
        "类别不是最末级事项",
        "the category is not a leaf matter",
    ),
    (
        "decision_consultation",
        "咨询类，可直接答复",
        "a consultation; may be answered at once",
    ),
    (
        "decision_no_rule",
        "职责清单无规则，由兜底单位处理",
        "no rule; the fallback unit takes it",
    ),
    (
        "decision_conflict",
        "职责清单规则冲突",
        "conflicting rules in the list",
    ),
    ("decision_no_place", "请选择或说明地点", "give the place"),
    (
        "decision_category_given",
        "按职责清单，由分拨员确认派单",
        "from the list; a dispatcher confirms",
    ),
    (
        "decision_dispatched",
        "将自动派单",
        "will be dispatched automatically",
    ),
    ("city", "市", "City"),
    ("compound", "小区", "Compound"),
    ("admin", "系统管理", "Administration"),
    ("admin_divisions", "行政区划", "Divisions"),
    ("admin_units", "责任单位", "Units"),
    ("admin_users", "用户与角色", "Users and roles"),
    ("admin_catalog", "事项目录", "Matter catalogue"),
    ("admin_rules", "职责清单", "Responsibility list"),
    ("admin_calendar", "工作日历", "Working calendar"),
    ("admin_keys", "Open311 密钥", "Open311 keys"),
    ("admin_knowledge", "知识库", "Knowledge base"),
    ("active", "启用", "Active"),
    ("disabled", "已停用", "Disabled"),
    ("add_entry", "新增条目", "Add an entry"),
    ("edit_entry", "编辑条目", "Edit the entry"),
    ("add_rule", "新增规则", "Add a rule"),
    ("edit_rule", "编辑规则", "Edit the rule"),
    ("add_unit", "新增单位", "Add a unit"),
    ("edit_unit", "编辑单位", "Edit the unit"),
    ("edit_user", "编辑账号", "Edit account"),
    ("create_account", "创建账号", "Create an account"),
    ("answer", "答复内容", "Answer"),
    ("question", "问题", "Question"),
    (
        "calendar_lines",
        "本年节假日与调休上班日",
        "This year's holidays and make-up working days",
    ),
    (
        "calendar_hint",
        "每行：日期,holiday 或 workday,名称",
        "one per line: date,holiday or workday,name",
    ),
    ("cancel", "取消", "Cancel"),
    (
        "check_complete",
        "职责清单完整：每个事项在每个区划都有唯一主办单位",
        "Complete: every matter has one lead unit in every division",
    ),
    (
        "check_incomplete",
        "职责清单不完整",
        "The list is incomplete",
    ),
    ("checking", "正在检查…", "Checking…"),
    ("co_units", "协办单位", "Co-units"),
    ("code", "代码", "Code"),
    (
        "codes_hint",
        "单位代码，用分号分隔",
        "unit codes separated by ;",
    ),
    ("combinations", "个组合", "combinations"),
    ("completeness_check", "完整性检查", "Completeness check"),
    (
        "gaps",
        "缺口（由兜底单位处理）",
        "Gaps (the fallback unit takes them)",
    ),
    ("conflicts", "冲突", "Conflicts"),
    ("gap_examples", "缺口示例", "Examples of gaps"),
    ("conflict_examples", "冲突示例", "Examples of conflicts"),
    ("consultation", "咨询类", "consultation"),
    ("created", "创建时间", "Created"),
    ("date", "日期", "Date"),
    ("day_kind", "类型", "Kind"),
    ("day_off", "放假", "Day off"),
    ("makeup_day", "调休上班", "Make-up working day"),
    ("holiday_name", "节日", "Holiday"),
    ("delete", "删除", "Delete"),
    ("edit", "编辑", "Edit"),
    ("save", "保存", "Save"),
    ("saved", "已保存", "Saved"),
    ("display_name", "姓名", "Display name"),
    ("role", "角色", "Role"),
    ("unit", "单位", "Unit"),
    ("entry_id", "条目编号", "Entry id"),
    ("filter", "筛选", "Filter"),
    (
        "filter_rules",
        "按事项、区划或单位筛选",
        "Filter by matter, division or unit",
    ),
    ("from_catalogue", "按事项目录", "from the catalogue"),
    (
        "handling_span",
        "办理时限（可选）",
        "Handling deadline (optional)",
    ),
    (
        "response_span",
        "响应时限（可选）",
        "Response deadline (optional)",
    ),
    (
        "span_hint",
        "如 1wd、4wh、2h；留空用事项目录",
        "e.g. 1wd, 4wh, 2h; empty uses the catalogue",
    ),
    ("issue_key", "签发密钥", "Issue a key"),
    ("key_id", "密钥编号", "Key id"),
    ("key_issued", "已签发密钥：", "Key issued:"),
    (
        "key_once",
        "请立即复制保存，此密钥只显示这一次。",
        "Copy it now: the key is shown this once.",
    ),
    ("key_label", "用途", "Label"),
    ("revoke", "吊销", "Revoke"),
    ("revoked", "已吊销", "Revoked"),
    ("new_password", "新密码（可选）", "New password (optional)"),
    ("password_min", "至少", "at least"),
    (
        "password_kinds",
        "个字符，混合字母、数字或符号，不含用户名",
        "characters, mixing letters, digits or symbols, without the username",
    ),
    ("nothing_found", "没有匹配项", "Nothing matches"),
    ("rule_added", "已新增规则", "Rule added"),
    ("rule_edited", "已修改规则", "Rule changed"),
    ("rule_deleted", "已删除规则", "Rule deleted"),
    (
        "rule_incomplete",
        "请选择事项、区划和主办单位",
        "Choose a matter, a division and a lead unit",
    ),
    (
        "rules_changed",
        "职责清单已被他人修改，请刷新后重试",
        "The list changed meanwhile; reload and try again",
    ),
    (
        "search_division",
        "搜索区划（名称或代码）",
        "Search divisions (name or code)",
    ),
    (
        "search_matter",
        "搜索事项（名称或代码）",
        "Search matters (name or code)",
    ),
    ("showing_first", "仅显示前", "showing the first"),
    ("sub_items", "个下级", "children"),
    ("tags", "标签", "Tags"),
    (
        "tags_hint",
        "用空格或逗号分隔",
        "separated by spaces or commas",
    ),
    (
        "tree_hint",
        "点击展开下级",
        "Open a node to see its children",
    ),
    ("unit_kind", "单位类型", "Kind"),
    ("unit_name", "单位名称", "Unit name"),
    ("unit_dispatch_centre", "分拨中心", "Dispatch centre"),
    ("unit_city_bureau", "市级部门", "City bureau"),
    ("unit_district_bureau", "区级部门", "District bureau"),
    ("unit_street_office", "街道办事处", "Street office"),
    (
        "unit_community_workstation",
        "社区工作站",
        "Community workstation",
    ),
    ("unit_property_company", "物业公司", "Property company"),
    (
        "unit_public_service",
        "公共服务企业",
        "Public service company",
    ),
    (
        "unit_for_unit_roles",
        "承办人和单位负责人必填",
        "required for unit handlers and leaders",
    ),
    ("working_hours_field", "工作时间", "Working hours"),
    ("year", "年份", "Year"),
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
    #[allow(clippy::unwrap_used)]
    fn every_key_a_template_asks_for_is_in_the_table() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("templates");
        let mut asked = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let html = std::fs::read_to_string(&path).unwrap();
            for part in html.split("c.t(\"").skip(1) {
                let key = part.split('"').next().unwrap_or_default();
                assert!(
                    MESSAGES.iter().any(|(k, _, _)| *k == key),
                    "{} asks for {key:?}, which the table lacks",
                    path.display()
                );
                asked += 1;
            }
        }
        assert!(asked > 100, "the templates were read ({asked} keys)");
    }

    #[test]
    fn url_encoding_keeps_paths_and_escapes_queries() {
        assert_eq!(url_encode("/track?code=A&x"), "/track%3Fcode%3DA%26x");
    }
}
