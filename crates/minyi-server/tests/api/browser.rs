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
    assert_eq!(text(&client, "#state").await, "待分拨");
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
    assert_eq!(text(&client, "#state").await, "办理中");
    assert!(text(&client, "#countdown").await.contains("工作小时"));
    fill(
        &client,
        "#reply-text",
        "已联合执法队清理摊贩，并安排每晚巡查。",
    )
    .await;
    shot(&client, "request").await;
    click(&client, "#reply-send").await;
    assert_eq!(text(&client, "#state").await, "待回访");
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
    assert_eq!(text(&client, "#state").await, "已归档");

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
    assert_eq!(text(&client, "h1").await, "Dashboard");

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
    assert_eq!(text(&client, "h1").await, "走访已记录");
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
fn value_after(html: &str, marker: &str) -> String {
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
