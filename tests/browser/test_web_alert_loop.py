"""An alert loop runs to closed in the console (raised, responded, rectified, reviewed);
an auditor then opens the closed loop, verifies the chain and exports it."""

from __future__ import annotations

from tests.support.browser import active_client, settle

RECEIPT = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"


def act(
    user, trigger: str, fields: dict[str, str], files: dict[str, list[dict]] | None = None
) -> None:  # noqa: ANN001
    page = user.page
    page.eval_on_selector(
        f"details:has(> summary[data-action={trigger}])", "d => { d.open = true; }"
    )
    form = f"form[data-action-form={trigger}]"
    for name, value in fields.items():
        page.fill(f"{form} [name={name}]", value)
    for name, chosen in (files or {}).items():
        page.set_input_files(f"{form} input[type=file][name={name}]", chosen)
    page.click(f"{form} button[type=submit]")
    page.wait_for_selector(".flash.ok")


def test_an_alert_loop_runs_to_closed(sign_in, live) -> None:  # noqa: ANN001
    client_id = active_client(live, "宁波预警示例有限公司", "91440300MA5ABCDE1H")
    risk = sign_in("risk1")
    risk.goto("/alerts")
    risk.page.click("details.card summary")
    form = "form[action='/alerts']"
    risk.page.fill(f"{form} input[name=client_id]", str(client_id))
    risk.page.select_option(f"{form} select[name=level]", "red")
    risk.page.select_option(f"{form} select[name=category]", "negative_news")
    risk.page.fill(f"{form} input[name=title]", "媒体报道拖欠供应商货款")
    risk.page.click(f"{form} button[type=submit]")
    risk.page.wait_for_selector(".flash.ok")
    case_path = risk.page.url.removeprefix(live.url)
    settle(live)

    sales = sign_in("sales1")
    sales.page.reload()
    assert sales.page.locator(f"table.inbox a[href='{case_path}']").count() == 1
    assert sales.page.locator("table.inbox .level-red").count() >= 1
    sales.shot("inbox-alert-sales-zh")
    sales.goto(case_path)
    act(
        sales,
        "respond",
        {"p_assessment": "核实为阶段性资金紧张", "p_plan": "两周内结清欠款并提供凭证"},
    )
    act(
        sales,
        "rectify",
        {"p_evidence": "已结清，附银行回单"},
        files={
            "f_attachments": [
                {"name": "回单-20261120.pdf", "mimeType": "application/pdf", "buffer": RECEIPT}
            ]
        },
    )
    sales.shot("case-alert-rectified-zh")

    risk.goto(case_path)
    act(risk, "review", {"comment": "凭证核实无误，关闭预警"})
    assert "已关闭" in risk.page.inner_text("h1")
    timeline = risk.page.inner_text("ol.timeline")
    for text in ("响应", "提交整改", "复盘关闭", "回单-20261120.pdf", "凭证核实无误"):
        assert text in timeline
    risk.shot("case-alert-closed-zh")
    # The uploaded receipt downloads from the timeline, byte for byte.
    with risk.page.expect_download() as download:
        risk.page.locator("ol.timeline a[download]", has_text="回单-20261120.pdf").first.click()
    assert download.value.suggested_filename == "回单-20261120.pdf"
    assert download.value.path().read_bytes() == RECEIPT

    risk.goto("/alerts")
    assert risk.page.inner_text("td[data-level=red][data-state=closed]") == "1"
    risk.shot("alerts-board-zh")
    assert risk.errors == [] and sales.errors == []

    auditor = sign_in("auditor1")
    auditor.goto("/audit")
    case_id = case_path.rsplit("/", 1)[1]
    row = auditor.page.locator(f"tr[data-loop='{case_id}']")
    assert "已关闭" in row.inner_text() and "已预警" in row.inner_text()  # time per stage
    auditor.page.click("button[data-verify]")
    auditor.page.wait_for_selector("[data-verify-ok]")
    assert auditor.page.get_attribute("[data-verify-ok]", "data-verify-ok") == "true"
    auditor.page.wait_for_selector("canvas[data-drawn]")
    auditor.shot("audit-zh")
    with auditor.page.expect_download() as download:
        row.locator("a[data-export=jsonl]").click()
    lines = download.value.path().read_text(encoding="utf-8").splitlines()
    assert download.value.suggested_filename == f"audit-instance-{case_id}.jsonl"
    assert any('"review"' in line for line in lines)
    row.locator("a").first.click()
    auditor.page.wait_for_selector("ol.timeline")
    assert auditor.page.locator("summary[data-action]").count() == 0  # auditors never act
    auditor.shot("case-closed-auditor-zh")
    assert auditor.errors == []
