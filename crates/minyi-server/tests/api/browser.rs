//! The web pages driven in a real browser: headless Chromium through chromedriver (WebDriver,
//! fantoccini). One request goes from a citizen's phone through the dispatch console and the unit
//! workbench back to the citizen's rating, and the dashboard's counts move; a clerk of another
//! unit is refused. With `MINYI_SCREENSHOTS=1` each main page is saved to `docs/screenshots/`.

use super::{PASSWORD, TestApp, city_app};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM_ARGS: [&str; 8] = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--lang=zh-CN",
];

/// A running chromedriver, stopped when dropped.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_driver() -> Driver {
    assert!(
        std::path::Path::new(CHROMEDRIVER).exists(),
        "{CHROMEDRIVER} is missing: apt-get install -y chromium chromium-driver"
    );
    let port = free_port();
    let child = Command::new(CHROMEDRIVER)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return driver;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not listen on port {port}");
}

async fn browser(driver: &Driver) -> Client {
    // Two rustls providers are linked (see Cargo.toml); the first call picks one for the process.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({ "args": CHROMIUM_ARGS, "binary": "/usr/bin/chromium" }),
    );
    let client = ClientBuilder::rustls()
        .unwrap()
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session");
    client.set_window_size(1000, 900).await.unwrap();
    client
}

/// Saves the viewport as `docs/screenshots/{name}.png` when `MINYI_SCREENSHOTS=1`.
async fn shot(client: &Client, name: &str) {
    if std::env::var("MINYI_SCREENSHOTS").as_deref() != Ok("1") {
        return;
    }
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    client
        .execute("window.scrollTo(0, 0)", Vec::new())
        .await
        .unwrap();
    // Let charts finish their entry animation.
    tokio::time::sleep(Duration::from_millis(if name == "dashboard" {
        1500
    } else {
        200
    }))
    .await;
    let png = client.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

/// The text of the first element matching `css`, waiting for it; found again when a page or an
/// htmx swap replaced it between finding and reading (a stale element).
async fn text(client: &Client, css: &str) -> String {
    let mut attempt = 0;
    loop {
        let element = client
            .wait()
            .at_most(Duration::from_secs(10))
            .for_element(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"));
        match element.text().await {
            Ok(text) => return text,
            Err(e) if attempt < 5 && format!("{e:?}").contains("StaleElementReference") => {
                attempt += 1;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("{css}: {e}"),
        }
    }
}

/// The element's text once it equals `expected`, or the last text seen after 10 s: after a
/// click that submits a form, the old page may still be read before the new one arrives.
async fn text_becomes(client: &Client, css: &str, expected: &str) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let seen = text(client, css).await;
        if seen == expected || std::time::Instant::now() >= deadline {
            return seen;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn click(client: &Client, css: &str) {
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .click()
        .await
        .unwrap();
}

async fn fill(client: &Client, css: &str, value: &str) {
    let field = client.find(Locator::Css(css)).await.unwrap();
    field.clear().await.unwrap();
    field.send_keys(value).await.unwrap();
}

async fn choose(client: &Client, css: &str, value: &str) {
    // The option may arrive by htmx a moment later.
    let option = format!("{css} option[value='{value}']");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(&option))
        .await
        .unwrap_or_else(|e| panic!("{option}: {e}"));
    client
        .find(Locator::Css(css))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

async fn sign_in(client: &Client, app: &TestApp, username: &str) {
    client.goto(&app.url("/login")).await.unwrap();
    client.delete_all_cookies().await.unwrap();
    fill(client, "#username", username).await;
    fill(client, "#password", PASSWORD).await;
    click(client, "#sign-in").await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("form[action='/logout']"))
        .await
        .unwrap_or_else(|e| panic!("{username} signed in: {e}"));
}

/// The dashboard's count of requests in a state.
async fn count_in(client: &Client, app: &TestApp, state: &str) -> i64 {
    client.goto(&app.url("/dashboard")).await.unwrap();
    text(client, &format!("#by-state tr[data-state='{state}'] td"))
        .await
        .trim()
        .parse()
        .unwrap()
}

#[tokio::test]
async fn a_request_goes_through_the_web_pages_from_the_citizen_and_back() {
    let app = city_app().await;
    let driver = start_driver().await;
    let client = browser(&driver).await;

    // The supervisor's dashboard before.
    sign_in(&client, &app, "supervisor").await;
    let closed_before = count_in(&client, &app, "closed").await;
    let total_before: i64 = text(&client, "#total").await.parse().unwrap();
    client.delete_all_cookies().await.unwrap();

    // A citizen on a phone: category search, the division cascade, the tracking code.
    client.set_window_size(390, 844).await.unwrap();
    client.goto(&app.url("/")).await.unwrap();
    shot(&client, "portal").await;
    client.goto(&app.url("/submit")).await.unwrap();
    fill(&client, "#category-q", "占道").await;
    click(&client, "#matter-results input[name='matter_id']").await;
    fill(
        &client,
        "#text",
        "甲花园门口每天晚上有流动摊贩占道经营，影响通行。",
    )
    .await;
    choose(&client, "#district", "440304").await;
    choose(&client, "#street", "440304001").await;
    choose(&client, "#community", "440304001001").await;
    fill(&client, "#address", "甲花园东门").await;
    fill(&client, "#phone", "13812345678").await;
    fill(&client, "#name", "张三").await;
    shot(&client, "submit").await;
    click(&client, "#send").await;
    let code = text(&client, "#tracking-code").await;
    assert_eq!(code.len(), 11, "a tracking code: {code}");
    shot(&client, "receipt").await;

    // Tracking shows nothing more than the state until the phone check passes.
    client
        .goto(&app.url(&format!("/track?code={code}")))
        .await
        .unwrap();
    assert_eq!(text_becomes(&client, "#state", "待分拨").await, "待分拨");
    assert!(client.find(Locator::Css("#timeline")).await.is_err());
    client
        .goto(&app.url(&format!("/track?code={code}&phone_last4=0000")))
        .await
        .unwrap();
    assert!(client.find(Locator::Css("#timeline")).await.is_err());

    // The dispatcher sees the suggested unit and dispatches in one action.
    client.set_window_size(1000, 900).await.unwrap();
    sign_in(&client, &app, "dispatcher").await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/dispatch")
    );
    let item = format!("#received-queue li[data-code='{code}']");
    assert!(text(&client, &item).await.contains("甲街道办事处"));
    let href = client
        .find(Locator::Css(&format!("{item} a")))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    shot(&client, "dispatch").await;
    click(&client, &format!("{item} button.dispatch")).await;
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("#q-received"))
        .await
        .unwrap();
    assert!(client.find(Locator::Css(&item)).await.is_err());
    // The dispatcher needs the requester's phone, in clear.
    client.goto(&app.url(&href)).await.unwrap();
    assert_eq!(text(&client, "#phone").await, "13812345678");

    // A clerk of another unit cannot open it.
    sign_in(&client, &app, "clerk_b").await;
    client.goto(&app.url(&href)).await.unwrap();
    assert!(text(&client, "h1").await.contains("403"));
    assert!(client.find(Locator::Css("#timeline")).await.is_err());
    shot(&client, "denied").await;

    // The unit's clerk signs and replies, with the deadline counting down in working time.
    sign_in(&client, &app, "clerk_a").await;
    let row = format!("#unit-queue tr[data-code='{code}']");
    assert!(text(&client, &row).await.contains("待签收"));
    shot(&client, "unit").await;
    click(&client, &format!("{row} button.sign")).await;
    assert_eq!(text_becomes(&client, "#state", "办理中").await, "办理中");
    assert!(text(&client, "#countdown").await.contains("工作小时"));
    fill(
        &client,
        "#reply-text",
        "已联合执法队清理摊贩，并安排每晚巡查。",
    )
    .await;
    shot(&client, "request").await;
    click(&client, "#reply-send").await;
    assert_eq!(text_becomes(&client, "#state", "待回访").await, "待回访");
    assert!(text(&client, "#timeline").await.contains("办结"));

    // The supervisor sees due and overdue lists (this one is replied, so in neither).
    sign_in(&client, &app, "supervisor").await;
    client.goto(&app.url("/supervise")).await.unwrap();
    assert!(!text(&client, "#overdue").await.contains(&code));
    shot(&client, "supervise").await;

    // The citizen, after the phone check, sees the reply and rates it.
    client.delete_all_cookies().await.unwrap();
    client.set_window_size(390, 844).await.unwrap();
    client
        .goto(&app.url(&format!("/track?code={code}&phone_last4=5678")))
        .await
        .unwrap();
    assert!(text(&client, "#reply").await.contains("巡查"));
    assert!(text(&client, "#timeline").await.contains("签收"));
    shot(&client, "track").await;
    click(&client, "#rate input[value='satisfied']").await;
    click(&client, "#rate-send").await;
    assert!(!text(&client, "#rated").await.is_empty());
    assert_eq!(text_becomes(&client, "#state", "已归档").await, "已归档");

    // The dashboard's counts moved.
    client.set_window_size(1000, 900).await.unwrap();
    sign_in(&client, &app, "supervisor").await;
    assert_eq!(count_in(&client, &app, "closed").await, closed_before + 1);
    assert_eq!(
        text(&client, "#total").await.parse::<i64>().unwrap(),
        total_before + 1
    );
    assert_eq!(text(&client, "#satisfaction").await, "100.00%");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "body[data-charts='ready'] #chart-volume canvas",
        ))
        .await
        .expect("ECharts drew the charts");
    shot(&client, "dashboard").await;

    // The English switch.
    click(&client, "#lang-switch").await;
    assert_eq!(text_becomes(&client, "h1", "Dashboard").await, "Dashboard");

    client.close().await.unwrap();
}

#[tokio::test]
async fn a_service_team_member_logs_a_visit_and_follows_a_match_in_the_web_pages() {
    let app = super::matchmaking::matchmaking_app().await;
    let driver = start_driver().await;
    let client = browser(&driver).await;

    // The member lands on the workbench with the team's two enterprises.
    sign_in(&client, &app, "helper_a").await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/enterprise")
    );
    assert_eq!(text(&client, "h1").await, "助企工作台");
    assert_eq!(text(&client, "#n-enterprises").await, "2");
    shot(&client, "enterprise").await;

    // A visit with one problem: it becomes an enterprise request waiting for dispatch.
    click(&client, "#my-enterprises tr a").await;
    text(&client, "#visit-form label").await;
    fill(
        &client,
        "#visit-form textarea[name='notes']",
        "了解企业用工和融资情况",
    )
    .await;
    fill(
        &client,
        "#visit-form textarea[name='problems']",
        "厂区门口道路破损，货车无法通行",
    )
    .await;
    click(&client, "#visit-form button[type='submit']").await;
    assert_eq!(
        text_becomes(&client, "h1", "走访已记录").await,
        "走访已记录"
    );
    let row = text(&client, "#visit-requests tbody tr").await;
    assert!(row.contains("道路破损") && row.contains("待分拨"), "{row}");
    let code = text(&client, "#visit-requests .tracking-code").await;
    assert_eq!(code.len(), 11, "{code}");

    // A need: the loan subsidy is proposed; contact, then agreement.
    client.back().await.unwrap();
    client.refresh().await.unwrap();
    text(&client, "#need-form label").await;
    choose(&client, "#need-form select[name='kind']", "funding").await;
    fill(
        &client,
        "#need-form input[name='title']",
        "扩大生产需要流动资金贷款",
    )
    .await;
    fill(
        &client,
        "#need-form textarea[name='detail']",
        "希望获得银行贷款贴息",
    )
    .await;
    click(&client, "#need-form button[type='submit']").await;
    let first = text(&client, "#matches tbody tr").await;
    assert!(first.contains("科技型中小企业贷款贴息"), "{first}");
    assert!(first.contains("已推荐"), "{first}");
    shot(&client, "enterprise_need").await;
    fill(
        &client,
        "#matches tbody tr input[name='note']",
        "已约银行上门",
    )
    .await;
    click(&client, "#matches tbody tr button.contacted").await;
    assert!(
        text(
            &client,
            "#matches tbody tr[data-status='contacted'] .match-status"
        )
        .await
        .contains("已对接")
    );
    click(&client, "#matches tbody tr button.agreed").await;
    let status = text(
        &client,
        "#matches tbody tr[data-status='agreed'] .match-status",
    )
    .await;
    assert!(
        status.contains("已达成") && status.contains("已约银行上门"),
        "{status}"
    );
    assert!(
        client
            .find(Locator::Css("#matches tbody tr form"))
            .await
            .is_err()
    );

    // The workbench lists the need with its match made; another team's member cannot open it.
    let need_url = client.current_url().await.unwrap();
    client.goto(&app.url("/enterprise")).await.unwrap();
    assert!(text(&client, "#needs tbody tr").await.contains("已达成 1"));
    sign_in(&client, &app, "helper_b").await;
    client.goto(need_url.as_str()).await.unwrap();
    assert!(text(&client, "h1").await.contains("403"));

    // The supervisor's figures count the visit and the match, with a chart.
    sign_in(&client, &app, "supervisor").await;
    client
        .goto(&app.url("/enterprise/kpis?by=team"))
        .await
        .unwrap();
    assert_eq!(text(&client, "#total-agreed").await, "1");
    assert!(text(&client, "#total-visits").await.starts_with("1 /"));
    assert_eq!(
        client
            .find_all(Locator::Css("#kpi-table tbody tr"))
            .await
            .unwrap()
            .len(),
        2
    );
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("body[data-charts='ready'] #chart-kpis canvas"))
        .await
        .expect("ECharts drew the chart");
    shot(&client, "enterprise_kpis").await;

    client.close().await.unwrap();
}

#[tokio::test]
async fn web_forms_need_the_sessions_csrf_token_and_pages_need_a_session() {
    let app = city_app().await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // No session: sent to sign in.
    let response = client.get(app.url("/dispatch")).send().await.unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(
        response.headers()["location"].to_str().unwrap(),
        "/login?next=/dispatch"
    );
    // Wrong password: refused, no cookie.
    let response = client
        .post(app.url("/login"))
        .form(&[("username", "dispatcher"), ("password", "wrong")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().get("set-cookie").is_none());
    // Signing in sets the API's HttpOnly session cookie and goes to the role's page.
    let response = client
        .post(app.url("/login"))
        .form(&[("username", "dispatcher"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"].to_str().unwrap(), "/home");
    let cookie = response.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(cookie.starts_with("minyi_session=") && cookie.contains("HttpOnly"));
    let session = cookie.split(';').next().unwrap().to_string();
    let home = client
        .get(app.url("/home"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(home.headers()["location"].to_str().unwrap(), "/dispatch");
    // The same cookie works on the API.
    let me = client
        .get(app.url("/api/v1/auth/me"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(me.status(), 200);
    // A form without the CSRF token changes nothing; with it, the action is done.
    let (status, receipt) = app.submit(super::complaint(), None).await;
    assert_eq!(status, 201);
    let token = app.login("dispatcher").await;
    let id = super::id_of(&app, &token, receipt["tracking_code"].as_str().unwrap()).await;
    let options = client
        .get(app.url("/catalog/search?q=占道"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let matter = value_after(&options, "name=\"matter_id\" value=\"");
    let page = client
        .get(app.url(&format!("/requests/{id}")))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let csrf = value_after(&page, "name=\"csrf\" value=\"");
    let classify = |csrf: String| {
        client
            .post(app.url(&format!("/requests/{id}/classify")))
            .header("cookie", &session)
            .form(&[("matter_id", matter.clone()), ("csrf", csrf)])
            .send()
    };
    assert_eq!(classify(String::new()).await.unwrap().status(), 403);
    assert_eq!(classify("forged".into()).await.unwrap().status(), 403);
    let (_, events) = app
        .get(&token, &format!("/api/v1/requests/{id}/events"))
        .await;
    assert_eq!(events.as_array().unwrap().len(), 1, "nothing recorded");
    assert_eq!(classify(csrf).await.unwrap().status(), 303);
    let (_, events) = app
        .get(&token, &format!("/api/v1/requests/{id}/events"))
        .await;
    assert_eq!(events[1]["kind"], "classified");
    // English on request.
    let page = client
        .get(app.url("/login?lang=en"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Staff sign-in") && page.contains("lang=\"en\""));
    let page = client
        .get(app.url("/login"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("工作人员登录"));
}

/// The text between `marker` and the next `"`.
pub(super) fn value_after(html: &str, marker: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("{marker} in the page"))
        + marker.len();
    html[start..].split('"').next().unwrap().to_string()
}

#[tokio::test]
async fn the_kpi_page_ranks_units_drills_into_a_district_and_prints_the_bulletin() {
    let (app, _, _) = super::kpi::scenario().await;
    let period = super::kpi::around_today();
    let driver = start_driver().await;
    let client = browser(&driver).await;

    sign_in(&client, &app, "supervisor").await;
    client
        .goto(&app.url(&format!("/kpi?group=unit&{period}")))
        .await
        .unwrap();
    let table = text(&client, "#kpi-table").await;
    assert!(
        table.contains("甲街道办事处") && table.contains("乙街道办事处"),
        "{table}"
    );
    assert_eq!(text(&client, "#kpi-received").await, "3");
    assert_eq!(text(&client, "#kpi-on-time").await, "100.00%");
    client
        .wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css(
            "body[data-charts='ready'] #chart-ranking canvas",
        ))
        .await
        .expect("ECharts drew the ranking");
    shot(&client, "kpi").await;
    let xlsx = client
        .find(Locator::Css("#download-xlsx"))
        .await
        .unwrap()
        .attr("href")
        .await
        .unwrap()
        .unwrap();
    assert!(
        xlsx.contains("format=xlsx") && xlsx.contains("group=unit"),
        "{xlsx}"
    );

    // Drill-down: the district, then its streets.
    client
        .goto(&app.url(&format!("/kpi?group=division%3Adistrict&{period}")))
        .await
        .unwrap();
    click(&client, "#kpi-table a").await;
    let table = text(&client, "#kpi-table tbody").await;
    assert!(
        table.contains("甲街道") && table.contains("乙街道"),
        "{table}"
    );
    assert!(!table.contains("福田区"), "{table}");

    // The printable weekly bulletin.
    client
        .goto(&app.url(&format!(
            "/kpi/bulletin?kind=week&date={}",
            (chrono::Utc::now() + chrono::Duration::hours(8)).date_naive()
        )))
        .await
        .unwrap();
    assert!(text(&client, "#bulletin-title").await.contains("周通报"));
    assert!(
        text(&client, "#bulletin-units")
            .await
            .contains("甲街道办事处")
    );
    shot(&client, "bulletin").await;

    // A clerk sees only the unit's own figures.
    sign_in(&client, &app, "clerk_b").await;
    client
        .goto(&app.url(&format!("/kpi?group=unit&{period}")))
        .await
        .unwrap();
    let table = text(&client, "#kpi-table tbody").await;
    assert!(
        table.contains("乙街道办事处") && !table.contains("甲街道办事处"),
        "{table}"
    );

    client.close().await.unwrap();
}

/// The value of a form field.
async fn value(client: &Client, css: &str) -> String {
    client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .prop("value")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// The id of the focused element.
async fn focused(client: &Client) -> String {
    client
        .active_element()
        .await
        .unwrap()
        .attr("id")
        .await
        .unwrap()
        .unwrap_or_default()
}

/// Waits until the text of `css` contains `needle` (an htmx swap may bring it later).
async fn wait_for_text(client: &Client, css: &str, needle: &str) -> String {
    let mut last = String::new();
    for _ in 0..100 {
        if let Ok(element) = client.find(Locator::Css(css)).await
            && let Ok(t) = element.text().await
        {
            if t.contains(needle) {
                return t;
            }
            last = t;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{css} never contained {needle:?}; last: {last:?}");
}

/// The request with this tracking code as the API shows it to the operator.
async fn request_by_code(app: &TestApp, code: &str) -> serde_json::Value {
    let operator = app.login("operator").await;
    let id = super::id_of(app, &operator, code).await;
    let (status, view) = app.get(&operator, &format!("/api/v1/requests/{id}")).await;
    assert_eq!(status, 200, "{view}");
    view
}

#[tokio::test]
async fn an_operator_takes_calls_on_the_intake_page_and_answers_a_consultation_from_the_knowledge_base()
 {
    // The classifier of the intake tests, never sure enough to dispatch on its own.
    let app = super::intake::engine_app(1.1).await;
    let admin = app.login("admin").await;
    let response = app
        .client
        .put(app.url("/api/v1/admin/knowledge"))
        .bearer_auth(&admin)
        .json(&serde_json::json!([
            {"id": "sbk-buban", "question": "社保卡丢失了如何挂失和补办？",
             "answer": "先通过热线临时挂失，再持身份证到社保服务网点补办。", "tags": ["社保卡", "补办"]},
            {"id": "gjj-tiqu", "question": "住房公积金可以在哪些情形下提取？",
             "answer": "购房、还贷、租房、离职或退休可申请提取。", "tags": ["公积金"]}
        ]))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let driver = start_driver().await;
    let client = browser(&driver).await;

    // The operator lands on the intake form with the caller's phone focused.
    sign_in(&client, &app, "operator").await;
    assert!(
        client
            .current_url()
            .await
            .unwrap()
            .path()
            .ends_with("/intake")
    );
    assert_eq!(focused(&client).await, "phone");
    assert!(text(&client, "#shortcuts").await.contains("Ctrl+Enter"));

    // A complaint: the suggestion appears while the text is typed.
    client
        .active_element()
        .await
        .unwrap()
        .send_keys("13812345678")
        .await
        .unwrap();
    fill(&client, "#name", "李四").await;
    fill(
        &client,
        "#text",
        "甲花园门口每天晚上有流动摊贩占道经营，影响通行。",
    )
    .await;
    let category = wait_for_text(&client, "#suggested-category", "占道经营").await;
    assert!(category.contains("%"), "{category}");
    assert!(text(&client, "#located").await.contains("甲花园"));
    assert!(
        text(&client, "#suggested-unit")
            .await
            .contains("甲街道办事处")
    );
    assert_eq!(text(&client, "#urgency").await, "一般");
    shot(&client, "intake").await;
    // Ctrl+Enter files it: the tracking code, and a clean form for the next call.
    client
        .find(Locator::Css("#text"))
        .await
        .unwrap()
        .send_keys("\u{E009}\u{E007}")
        .await
        .unwrap();
    let code = text(&client, "#tracking-code").await;
    assert_eq!(code.len(), 11, "{code}");
    assert_eq!(text(&client, "#filed-state").await, "待分拨");
    assert_eq!(value(&client, "#text").await, "");
    assert_eq!(value(&client, "#phone").await, "");
    assert_eq!(focused(&client).await, "phone");
    let view = request_by_code(&app, &code).await;
    assert_eq!(view["channel"], "hotline", "{view}");
    assert_eq!(view["state"], "received");
    assert_eq!(view["requester"]["phone"], "13812345678", "{view}");
    assert!(
        view["division_path"].to_string().contains("甲花园"),
        "{view}"
    );

    // A consultation: the knowledge base answers it, and one button answers and completes it.
    fill(&client, "#phone", "13900001111").await;
    fill(&client, "#text", "请问社保卡丢了怎么补办？").await;
    let hit = "#knowledge-hits li[data-entry='sbk-buban']";
    wait_for_text(&client, hit, "补办").await;
    assert!(
        text(&client, "#suggested-category")
            .await
            .contains("社保政策")
    );
    click(&client, &format!("{hit} button.answer")).await;
    let answered = text(&client, "#tracking-code").await;
    assert_ne!(answered, code);
    assert_eq!(text(&client, "#filed-state").await, "待回访");
    assert!(text(&client, "#filed").await.contains("直接答复办结"));
    let view = request_by_code(&app, &answered).await;
    assert_eq!(view["state"], "replied", "{view}");
    assert_eq!(view["channel"], "hotline");
    assert!(view["reply"].to_string().contains("持身份证"), "{view}");

    // A complaint cannot be closed that way: nothing is filed, the call stays on the form.
    fill(&client, "#phone", "13900002222").await;
    fill(&client, "#text", "社保卡补办的地方门口有流动摊贩占道经营").await;
    fill(&client, "#category-q", "占道").await;
    click(&client, "#matter-results input[name='matter_id']").await;
    wait_for_text(&client, "#suggested-category", "已选").await;
    wait_for_text(&client, "#knowledge-hits", "社保卡").await;
    let before = text(&client, "#filed").await;
    click(&client, &format!("{hit} button.answer")).await;
    assert!(text(&client, "#form-error").await.contains("咨询类"),);
    assert_eq!(value(&client, "#phone").await, "13900002222");
    assert!(
        client.find(Locator::Css("#filed")).await.is_err(),
        "{before}"
    );

    client.close().await.unwrap();
}

#[tokio::test]
async fn an_administrator_edits_the_responsibility_list_and_manages_open311_keys_and_accounts() {
    let app = city_app().await;
    let driver = start_driver().await;
    let client = browser(&driver).await;
    sign_in(&client, &app, "admin").await;

    // The fixture's list is complete.
    client.goto(&app.url("/admin/rules")).await.unwrap();
    assert_eq!(text(&client, "#check-conflicts").await, "0");
    assert_eq!(text(&client, "#check-gaps").await, "0");
    let rows = client
        .find_all(Locator::Css("#rules tbody tr"))
        .await
        .unwrap()
        .len();
    assert_eq!(rows, 4);

    // A second rule for 市容环境 in 甲街道 with another lead unit: a conflict the check shows.
    fill(&client, "#matter-q", "市容").await;
    click(&client, "#matter-options input[value='01.01']").await;
    fill(&client, "#division-q", "甲街道").await;
    click(&client, "#division-options input[value='440304001']").await;
    choose(&client, "#lead_unit_code", "BUR").await;
    fill(&client, "#legal_basis", "《城市管理综合执法条例》").await;
    click(&client, "#save-rule").await;
    assert_eq!(
        text_becomes(&client, "#notice", "已新增规则").await,
        "已新增规则"
    );
    assert_eq!(text(&client, "#check-conflicts").await, "1");
    let sample = text(&client, "#conflict-samples").await;
    assert!(
        sample.contains("占道经营") && sample.contains("甲花园"),
        "{sample}"
    );
    assert_eq!(
        client
            .find_all(Locator::Css("#rules tbody tr"))
            .await
            .unwrap()
            .len(),
        5
    );
    shot(&client, "admin_rules").await;
    // The API sees the same list.
    let admin = app.login("admin").await;
    let (_, check) = app.get(&admin, "/api/v1/admin/rules/check").await;
    assert_eq!(check["conflicts"], 1, "{check}");

    // Settled by making the new rule the more specific one (its matter the leaf), then removed.
    click(&client, "#rules tr[data-index='4'] a").await;
    assert_eq!(
        text_becomes(&client, "#rule-form-h", "编辑规则").await,
        "编辑规则"
    );
    fill(&client, "#matter-q", "占道").await;
    click(&client, "#matter-options input[value='01.01.001']").await;
    click(&client, "#save-rule").await;
    assert_eq!(
        text_becomes(&client, "#notice", "已修改规则").await,
        "已修改规则"
    );
    assert_eq!(text(&client, "#check-conflicts").await, "0");
    assert!(
        text(&client, "#rules tr[data-index='4']")
            .await
            .contains("福田区城管局")
    );
    click(&client, "#rules tr[data-index='4'] button.delete").await;
    assert_eq!(
        text_becomes(&client, "#notice", "已删除规则").await,
        "已删除规则"
    );
    assert_eq!(text(&client, "#check-conflicts").await, "0");
    let (_, rules) = app.get(&admin, "/api/v1/admin/rules").await;
    assert_eq!(rules.as_array().unwrap().len(), 4, "{rules}");

    // An Open311 key: shown once, working, then revoked and refused.
    client.goto(&app.url("/admin/api-keys")).await.unwrap();
    fill(&client, "#key-label", "城市App").await;
    click(&client, "#issue").await;
    let key = text(&client, "#issued-key").await;
    assert!(key.len() >= 20, "{key}");
    let open311 = |key: String| {
        let url = app.url(&format!("/open311/v2/requests.json?api_key={key}"));
        async move { reqwest::get(url).await.unwrap().status() }
    };
    assert_eq!(open311(key.clone()).await, 200);
    client.goto(&app.url("/admin/api-keys")).await.unwrap();
    assert!(client.find(Locator::Css("#issued-key")).await.is_err());
    assert!(!client.source().await.unwrap().contains(&key));
    let row = "#keys tbody tr";
    assert!(text(&client, row).await.contains("城市App"));
    click(&client, &format!("{row} button.revoke")).await;
    assert!(
        text(&client, &format!("{row} .key-state"))
            .await
            .contains("已吊销")
    );
    assert_eq!(open311(key).await, 403);

    // Accounts: the password policy is the API's; a new clerk gets a unit.
    client.goto(&app.url("/admin/users")).await.unwrap();
    fill(&client, "#new-username", "clerk_c").await;
    fill(&client, "#new-display", "丙办事员").await;
    choose(&client, "#new-role", "unit_handler").await;
    choose(&client, "#new-unit", "SO-B").await;
    // Short passwords are refused by the browser first; lift that to see the server's refusal.
    client
        .execute(
            "document.getElementById('new-password').removeAttribute('minlength')",
            Vec::new(),
        )
        .await
        .unwrap();
    fill(&client, "#new-password", "short").await;
    click(&client, "#create-user").await;
    assert!(text(&client, "#form-error").await.contains("密码"));
    fill(&client, "#new-password", "a long enough passphrase").await;
    click(&client, "#create-user").await;
    assert_eq!(text_becomes(&client, "#notice", "已保存").await, "已保存");
    let row = "#users tr[data-username='clerk_c']";
    assert!(text(&client, row).await.contains("乙街道办事处"));
    // Disabled: the account can no longer sign in.
    click(&client, &format!("{row} a")).await;
    click(&client, "#edit-active").await;
    click(&client, "#save-user").await;
    assert!(text(&client, row).await.contains("已停用"));
    shot(&client, "admin_users").await;
    let response = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .json(&serde_json::json!({"username": "clerk_c", "password": "a long enough passphrase"}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);

    client.close().await.unwrap();
}
