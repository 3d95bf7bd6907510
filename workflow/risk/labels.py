"""The words for every coded value of the customer-risk domain, in both languages, declared
once: the console, the API's presentation and exports word a value from here.

Each table maps a stored value to ``{"en": …, "zh-CN": …}`` (the shape of a definition's
YAML labels); a value with no entry is shown as it is.
"""

from __future__ import annotations

Label = dict[str, str]
Labels = dict[str, Label]


OWNERSHIP_TYPES: Labels = {
    "central_soe": {"en": "Central state-owned", "zh-CN": "中央国有企业"},
    "local_soe": {"en": "Local state-owned", "zh-CN": "地方国有企业"},
    "private": {"en": "Private", "zh-CN": "民营企业"},
    "foreign": {"en": "Foreign-invested", "zh-CN": "外商投资企业"},
    "individual": {"en": "Individual", "zh-CN": "个体工商户"},
    "collective": {"en": "Collective", "zh-CN": "集体企业"},
    "other": {"en": "Other", "zh-CN": "其他"},
}

# Who a client is: a company, a 个体工商户 or a natural person.
CLIENT_TYPES: Labels = {
    "enterprise": {"en": "Enterprise", "zh-CN": "企业"},
    "individual_business": {"en": "Individual business", "zh-CN": "个体工商户"},
    "natural_person": {"en": "Natural person", "zh-CN": "自然人"},
}

# The legal basis of processing a person's information (PIPL art. 13).
CONSENT_BASES: Labels = {
    "consent": {"en": "Consent", "zh-CN": "个人同意"},
    "contract": {"en": "Contract", "zh-CN": "订立、履行合同所必需"},
    "legal_obligation": {"en": "Legal obligation", "zh-CN": "履行法定职责或义务"},
    "vital_interest": {"en": "Vital interest", "zh-CN": "保护生命健康和财产安全"},
    "public_interest": {"en": "Public interest", "zh-CN": "公共利益（新闻报道、舆论监督）"},
    "public_information": {"en": "Published information", "zh-CN": "已合法公开的信息"},
}

# Where a client record was read, and how (the access log).
READ_VIEWS: Labels = {
    "list": {"en": "list", "zh-CN": "列表"},
    "detail": {"en": "detail", "zh-CN": "详情"},
    "edit": {"en": "edit form", "zh-CN": "编辑表单"},
    "report": {"en": "risk report", "zh-CN": "风险报告"},
    "personal_data": {"en": "personal-data export", "zh-CN": "个人信息导出"},
}
READ_CHANNELS: Labels = {
    "api": {"en": "API", "zh-CN": "API"},
    "console": {"en": "console", "zh-CN": "控制台"},
}

# Industries as the demo data and imports code them; an industry typed in words is shown as typed.
INDUSTRIES: Labels = {
    "energy": {"en": "Energy", "zh-CN": "能源"},
    "manufacturing": {"en": "Manufacturing", "zh-CN": "制造业"},
    "e-commerce": {"en": "E-commerce", "zh-CN": "电子商务"},
    "construction": {"en": "Construction", "zh-CN": "建筑业"},
    "trade": {"en": "Trade", "zh-CN": "贸易"},
    "trading": {"en": "Trading", "zh-CN": "贸易"},
    "finance": {"en": "Finance", "zh-CN": "金融业"},
    "software": {"en": "Software", "zh-CN": "软件和信息技术服务业"},
    "real_estate": {"en": "Real estate", "zh-CN": "房地产业"},
    "logistics": {"en": "Logistics", "zh-CN": "物流"},
    "retail": {"en": "Retail", "zh-CN": "零售业"},
    "agriculture": {"en": "Agriculture", "zh-CN": "农业"},
}

# The customer-risk roles and the system.
ROLES: Labels = {
    "sales": {"en": "Sales", "zh-CN": "销售"},
    "risk_officer": {"en": "Risk officer", "zh-CN": "风控专员"},
    "legal": {"en": "Legal", "zh-CN": "法务"},
    "manager": {"en": "Manager", "zh-CN": "经理"},
    "auditor": {"en": "Auditor", "zh-CN": "审计员"},
    "admin": {"en": "Admin", "zh-CN": "管理员"},
    "system": {"en": "System", "zh-CN": "系统"},
}

# The system's parts that act (``system:<part>`` in audit records and case data).
SYSTEM_ACTORS: Labels = {
    "cli": {"en": "command line", "zh-CN": "命令行"},
    "demo": {"en": "demo data", "zh-CN": "演示数据"},
    "dashboard": {"en": "dashboard", "zh-CN": "看板"},
    "definitions": {"en": "definitions", "zh-CN": "流程定义"},
    "monitoring": {"en": "monitoring", "zh-CN": "风险监控"},
    "onboarding": {"en": "admission", "zh-CN": "客户准入"},
    "periodic_review": {"en": "periodic review", "zh-CN": "定期复审"},
    "provider": {"en": "data provider", "zh-CN": "数据服务商"},
    "rerating": {"en": "re-rating", "zh-CN": "重新评级"},
    "rules": {"en": "rules", "zh-CN": "规则"},
    "screening": {"en": "screening", "zh-CN": "筛查"},
    "timer": {"en": "timer", "zh-CN": "定时器"},
    "webhook": {"en": "webhook", "zh-CN": "推送接口"},
    "due_diligence": {"en": "due diligence", "zh-CN": "尽职调查"},
    "alert_remediation": {"en": "alert remediation", "zh-CN": "预警闭环"},
    "scheduler": {"en": "scheduler", "zh-CN": "调度器"},
    "test": {"en": "test", "zh-CN": "测试"},
    "deployment": {"en": "deployment", "zh-CN": "部署"},
    "config": {"en": "configuration", "zh-CN": "配置"},
    "backtest": {"en": "backtest", "zh-CN": "回测"},
}

PAYMENT_HISTORIES: Labels = {
    "good": {"en": "Good", "zh-CN": "良好"},
    "minor_delays": {"en": "Minor delays", "zh-CN": "轻微延迟"},
    "overdue": {"en": "Overdue", "zh-CN": "逾期"},
    "default": {"en": "Defaulted", "zh-CN": "违约"},
}

ALERT_CATEGORIES: Labels = {
    "business_change": {"en": "Business change", "zh-CN": "工商变更"},
    "negative_news": {"en": "Negative news", "zh-CN": "负面舆情"},
    "litigation": {"en": "Litigation", "zh-CN": "涉诉"},
    "dishonest_debtor": {"en": "Dishonest judgement debtor", "zh-CN": "失信被执行人"},
    "payment_overdue": {"en": "Payment overdue", "zh-CN": "付款逾期"},
    "abnormal_operation": {"en": "Abnormal operation", "zh-CN": "经营异常"},
    "watchlist_hit": {"en": "Watch-list hit", "zh-CN": "名单命中"},
    "other": {"en": "Other", "zh-CN": "其他"},
}

ALERT_LEVELS: Labels = {
    "red": {"en": "Red", "zh-CN": "红色"},
    "orange": {"en": "Orange", "zh-CN": "橙色"},
    "yellow": {"en": "Yellow", "zh-CN": "黄色"},
    "blue": {"en": "Blue", "zh-CN": "蓝色"},
    "black": {"en": "Black", "zh-CN": "黑色"},
}

RISK_LEVELS: Labels = {
    "high": {"en": "High", "zh-CN": "高"},
    "medium": {"en": "Medium", "zh-CN": "中"},
    "low": {"en": "Low", "zh-CN": "低"},
}

STATUSES: Labels = {
    "prospect": {"en": "Prospect", "zh-CN": "潜在客户"},
    "pending_admission": {"en": "Pending admission", "zh-CN": "准入审批中"},
    "active": {"en": "Active", "zh-CN": "正常"},
    "suspended": {"en": "Suspended", "zh-CN": "已暂停"},
    "rejected": {"en": "Rejected", "zh-CN": "已拒绝"},
    "offboarded": {"en": "Offboarded", "zh-CN": "已退出"},
}

# Types of risk events (风险事件) of the living risk picture.
RISK_EVENT_TYPES: Labels = {
    "business_change": {"en": "Business change", "zh-CN": "工商变更"},
    "negative_news": {"en": "Negative news", "zh-CN": "负面舆情"},
    "litigation": {"en": "Litigation", "zh-CN": "司法诉讼"},
    "dishonest_debtor": {"en": "Dishonest judgement debtor", "zh-CN": "失信被执行人"},
    "abnormal_operation": {"en": "Abnormal operation", "zh-CN": "经营异常"},
    "payment_overdue": {"en": "Payment overdue", "zh-CN": "付款逾期"},
    "watchlist_hit": {"en": "Watch-list hit", "zh-CN": "名单命中"},
    "administrative_penalty": {"en": "Administrative penalty", "zh-CN": "行政处罚"},
    "equity_freeze": {"en": "Equity freeze", "zh-CN": "股权冻结"},
    "tax_violation": {"en": "Tax violation", "zh-CN": "税务违法"},
    "other": {"en": "Other", "zh-CN": "其他"},
}

# What became of a re-rating: applied at once, proposed for a dual approval, or no change.
RATING_OUTCOMES: Labels = {
    "applied": {"en": "applied", "zh-CN": "已生效"},
    "proposed": {"en": "proposed for approval", "zh-CN": "待双人审批"},
    "unchanged": {"en": "unchanged", "zh-CN": "无变化"},
}

# Kinds of audit records.
EVENTS: Labels = {
    "client.created": {"en": "created", "zh-CN": "创建"},
    "client.updated": {"en": "edited", "zh-CN": "编辑"},
    "client.screened": {"en": "screened", "zh-CN": "完成筛查"},
    "client.watchlist_match_confirmed": {
        "en": "watch-list match confirmed",
        "zh-CN": "确认名单命中",
    },
    "client.sensitive_read": {"en": "viewed sensitive data", "zh-CN": "查看了敏感信息"},
    "client.personal_data_exported": {"en": "personal data exported", "zh-CN": "导出个人信息"},
    "client.sensitive_changed": {"en": "sensitive change applied", "zh-CN": "敏感字段变更生效"},
    "client.status_changed": {"en": "status changed", "zh-CN": "状态变更"},
    "client.rerated": {"en": "re-rated", "zh-CN": "重新评级"},
    "monitoring.failed": {"en": "monitoring rule failed", "zh-CN": "监控规则执行失败"},
    "client.admitted": {"en": "admitted", "zh-CN": "准入生效"},
    "client.suspended": {"en": "suspended", "zh-CN": "暂停合作"},
    "client.reinstated": {"en": "reinstated", "zh-CN": "恢复合作"},
    "client.erased": {"en": "personal data erased", "zh-CN": "个人信息已删除"},
    "started": {"en": "started", "zh-CN": "发起"},
    "transition": {"en": "transition", "zh-CN": "流转"},
    "incident": {"en": "incident", "zh-CN": "异常事件"},
    "evidence.uploaded": {"en": "evidence uploaded", "zh-CN": "上传证明材料"},
    "alert.raised": {"en": "alert raised", "zh-CN": "发起预警"},
    "alert.breached": {"en": "alert deadline passed", "zh-CN": "预警超时"},
    "contract.expiring": {"en": "contract expiring", "zh-CN": "合同即将到期"},
    "contract.file_added": {"en": "contract file added", "zh-CN": "上传合同文件"},
    "contract.note_added": {"en": "performance note added", "zh-CN": "新增履约记录"},
    "rule_set.loaded": {"en": "rule set loaded", "zh-CN": "加载规则集"},
    "config.seeded": {"en": "configuration seeded", "zh-CN": "初始配置入库"},
    "config.proposed": {"en": "shipped configuration proposed", "zh-CN": "部署配置待审批"},
    "config.activated": {"en": "configuration activated", "zh-CN": "配置生效"},
    "watchlist.imported": {"en": "watch list imported", "zh-CN": "导入名单"},
    "user.created": {"en": "user created", "zh-CN": "创建用户"},
    "user.deactivated": {"en": "user deactivated", "zh-CN": "停用用户"},
    "user.reactivated": {"en": "user reactivated", "zh-CN": "恢复用户"},
    "user.roles_changed": {"en": "roles changed", "zh-CN": "角色变更"},
    "user.password_reset": {"en": "password reset", "zh-CN": "重置密码"},
    "user.signed_out": {"en": "signed out", "zh-CN": "退出登录"},
    "token.revoked": {"en": "token revoked", "zh-CN": "令牌吊销"},
    "job": {"en": "scheduled job", "zh-CN": "定时任务"},
    "instance.migrated": {"en": "moved to a new workflow version", "zh-CN": "迁移至新流程版本"},
    "instance.migration_reverted": {
        "en": "workflow version migration reverted",
        "zh-CN": "撤销流程版本迁移",
    },
}

# Watch lists (the ``list`` of a watch-list entry).
WATCHLISTS: Labels = {
    "blacklist": {"en": "Blacklist", "zh-CN": "黑名单"},
    "dishonest_debtor": {"en": "Dishonest judgement debtors", "zh-CN": "失信被执行人"},
    "sanctions": {"en": "Sanctions", "zh-CN": "制裁名单"},
}

# Where the re-screening after a watch-list import stands.
RESCREEN_STATUSES: Labels = {
    "none": {"en": "not needed (nothing changed)", "zh-CN": "无需重新筛查（无变化）"},
    "pending": {"en": "re-screening", "zh-CN": "重新筛查中"},
    "done": {"en": "done", "zh-CN": "已完成"},
}

# How a name matched a watch-list entry (``possible_matches[].match``).
NAME_MATCH_PATHS: Labels = {
    "exact": {"en": "exact", "zh-CN": "完全一致"},
    "normalized": {"en": "normalised", "zh-CN": "规范化后一致"},
    "traditional": {"en": "traditional script", "zh-CN": "繁简转换"},
    "pinyin": {"en": "pinyin / romanised", "zh-CN": "拼音/罗马字"},
    "alias": {"en": "alias", "zh-CN": "别名"},
    "credit_code": {"en": "credit code", "zh-CN": "统一社会信用代码"},
    "id_number": {"en": "ID number", "zh-CN": "证件号码"},
}

# How certain a name match is.
MATCH_CERTAINTIES: Labels = {
    "certain": {"en": "near certain", "zh-CN": "高度疑似"},
    "possible": {"en": "possible", "zh-CN": "疑似"},
}

# Client fields, as named in diffs, change requests and the record history.
FIELDS: Labels = {
    "name": {"en": "Name", "zh-CN": "名称"},
    "client_type": {"en": "Client type", "zh-CN": "客户类型"},
    "consent_basis": {"en": "Legal basis of processing", "zh-CN": "个人信息处理依据"},
    "consent_at": {"en": "Consent date", "zh-CN": "同意日期"},
    "credit_code": {"en": "Unified social credit code", "zh-CN": "统一社会信用代码"},
    "legal_representative": {"en": "Legal representative", "zh-CN": "法定代表人"},
    "id_number": {"en": "Identity number", "zh-CN": "证件号码"},
    "industry": {"en": "Industry", "zh-CN": "行业"},
    "region": {"en": "Region", "zh-CN": "地区"},
    "registered_capital": {"en": "Registered capital", "zh-CN": "注册资本"},
    "established_on": {"en": "Established", "zh-CN": "成立日期"},
    "ownership_type": {"en": "Ownership", "zh-CN": "所有制"},
    "state_ownership_pct": {"en": "State-owned share", "zh-CN": "国有持股比例"},
    "contacts": {"en": "Contacts", "zh-CN": "联系人"},
    "bank_account": {"en": "Bank account", "zh-CN": "银行账号"},
    "tags": {"en": "Tags", "zh-CN": "标签"},
    "facts": {"en": "Facts", "zh-CN": "评分因素"},
    "rating": {"en": "Rating", "zh-CN": "评级"},
    "risk_level": {"en": "Risk level", "zh-CN": "风险等级"},
    "risk_score": {"en": "Risk score", "zh-CN": "风险评分"},
    "credit_limit": {"en": "Credit limit", "zh-CN": "授信额度"},
    "blacklisted": {"en": "Blacklisted", "zh-CN": "黑名单"},
    "owner": {"en": "Owner", "zh-CN": "客户经理"},
    "status": {"en": "Status", "zh-CN": "状态"},
    "contracts": {"en": "Contracts", "zh-CN": "合同"},
    "erased_at": {"en": "Personal data erased", "zh-CN": "个人信息删除时间"},
    "offboarded_at": {"en": "Offboarded", "zh-CN": "退出时间"},
}

# Stages of an alert whose deadline passed (alert_remediation).
ALERT_STAGES: Labels = {
    "respond": {"en": "respond", "zh-CN": "响应"},
    "rectify": {"en": "rectify", "zh-CN": "整改"},
}

# How a due-diligence review ended, as its parent case is told.
REVIEW_OUTCOMES: Labels = {
    "passed": {"en": "passed", "zh-CN": "通过"},
    "passed_with_conditions": {"en": "passed with conditions", "zh-CN": "附条件通过"},
    "failed": {"en": "failed", "zh-CN": "未通过"},
}

# What decided a screening rating.
DECIDED_BY: Labels = {
    "rule": {"en": "decided by the rules", "zh-CN": "由规则判定"},
    "scorecard": {"en": "decided by the scorecard", "zh-CN": "由评分卡判定"},
}
# Kinds of governed configuration (config_change).
CONFIG_KINDS: Labels = {
    "rule_set": {"en": "Risk rating rules", "zh-CN": "风险评级规则"},
    "monitoring_rules": {"en": "Monitoring rules", "zh-CN": "监控规则"},
    "alert_routing": {"en": "Alert routing and SLAs", "zh-CN": "预警分派与时限"},
    "dd_checklist": {"en": "Due-diligence checklist", "zh-CN": "尽职调查清单"},
}
# Values coded by the forms (ownership, payment history, an alert's category), and levels
# (an alert's colour, a client's risk level): one word each, whichever table has it.
CHOICES: tuple[Labels, ...] = (
    OWNERSHIP_TYPES,
    PAYMENT_HISTORIES,
    ALERT_CATEGORIES,
    CLIENT_TYPES,
    CONSENT_BASES,
)
LEVELS: tuple[Labels, ...] = (ALERT_LEVELS, RISK_LEVELS)


def word(tables: Labels | tuple[Labels, ...], value: str | None, lang: str) -> str:
    """``value``'s label in ``lang`` (``en``/``zh-CN``) from the first table that has it;
    the value itself when none has."""
    for table in (tables,) if isinstance(tables, dict) else tables:
        found = table.get(value or "")
        if found is not None:
            return found.get(lang) or found["en"]
    return value or ""
