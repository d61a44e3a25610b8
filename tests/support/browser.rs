//! Real headless Chromium for the storefront's tests: Debian's `chromium` driven by its
//! `chromedriver` over WebDriver, with [fantoccini](https://crates.io/crates/fantoccini) as the
//! client (maintained, async on tokio, and it needs no TLS stack for a driver on loopback).
//!
//! A [`Scene`] owns one chromedriver and the browsers a test opens. [`Scene::play`] runs the
//! test and, if it fails, saves a screenshot of every browser's last page before the panic
//! goes on (the paths are printed), so a red run shows what the person would have seen.

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};

use fantoccini::{Client, ClientBuilder, Locator};
use futures::FutureExt;
use serde_json::json;
use testkit::eventually;

use super::WAIT;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// A laptop's window and a phone's.
pub const DESKTOP: (u32, u32) = (1100, 900);
pub const PHONE: (u32, u32) = (390, 844);

/// Where failure screenshots go: beside the test binaries, never in the source tree.
fn failures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("storefront-failures")
}

/// One chromedriver and the browsers opened through it.
pub struct Scene {
    test: String,
    driver: Mutex<Child>,
    driver_url: String,
    browsers: Mutex<Vec<(String, Client)>>,
}

impl Scene {
    /// Runs `test` with a fresh chromedriver; on failure, screenshots every browser first.
    pub async fn play<F, Fut>(test: &str, body: F)
    where
        F: FnOnce(Arc<Scene>) -> Fut,
        Fut: Future<Output = ()>,
    {
        let scene = Arc::new(Scene::start(test).await);
        let outcome = AssertUnwindSafe(body(scene.clone())).catch_unwind().await;
        if outcome.is_err() {
            scene.save_failure_screenshots().await;
        }
        scene.close().await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    }

    async fn start(test: &str) -> Self {
        for program in [CHROMIUM, CHROMEDRIVER] {
            assert!(
                std::path::Path::new(program).exists(),
                "{program} is missing: `./dev test` installs Debian's chromium and chromium-driver"
            );
        }
        let port = stack::free_ports(1).expect("a free port")[0];
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let driver_url = format!("http://127.0.0.1:{port}");
        let status = format!("{driver_url}/status");
        let ready = eventually(WAIT, || async {
            let answer = reqwest::get(&status).await.ok()?;
            let body: serde_json::Value = answer.json().await.ok()?;
            (body["value"]["ready"] == true).then_some(())
        })
        .await;
        assert!(
            ready.is_some(),
            "chromedriver did not get ready on {driver_url}"
        );
        Self {
            test: test.to_owned(),
            driver: Mutex::new(driver),
            driver_url,
            browsers: Mutex::new(Vec::new()),
        }
    }

    /// A new browser window (its own profile, so its own session storage), `size` pixels.
    pub async fn browser(&self, name: &str, size: (u32, u32)) -> Page {
        let mut capabilities = serde_json::Map::new();
        capabilities.insert("browserName".into(), json!("chrome"));
        capabilities.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                // The flags a closed network needs: no background connections to Google.
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync", "--disable-extensions",
                    "--hide-scrollbars", "--lang=en-GB",
                    format!("--window-size={},{}", size.0, size.1),
                ],
            }),
        );
        let connector = hyper_util::client::legacy::connect::HttpConnector::new();
        let client = ClientBuilder::new(connector)
            .capabilities(capabilities)
            .connect(&self.driver_url)
            .await
            .expect("a Chromium session");
        client
            .set_window_size(size.0, size.1)
            .await
            .expect("window size");
        self.browsers
            .lock()
            .unwrap()
            .push((name.to_owned(), client.clone()));
        Page {
            client,
            name: name.to_owned(),
        }
    }

    async fn save_failure_screenshots(&self) {
        let dir = failures_dir();
        let _ = std::fs::create_dir_all(&dir);
        let browsers = self.browsers.lock().unwrap().clone();
        for (name, client) in browsers {
            let path = dir.join(format!("{}-{name}.png", self.test));
            match client.screenshot().await {
                Ok(png) if std::fs::write(&path, &png).is_ok() => {
                    let url = client.current_url().await.map(|u| u.to_string());
                    eprintln!(
                        "screenshot of {name}'s page ({}): {}",
                        url.unwrap_or_default(),
                        path.display()
                    );
                }
                _ => eprintln!("no screenshot of {name}'s page could be taken"),
            }
        }
    }

    async fn close(&self) {
        let browsers = std::mem::take(&mut *self.browsers.lock().unwrap());
        for (_, client) in browsers {
            let _ = client.close().await;
        }
        let mut driver = self.driver.lock().unwrap();
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

/// One browser window, with the few things a person does in it.
#[derive(Clone)]
pub struct Page {
    pub client: Client,
    pub name: String,
}

/// `text` as an XPath string literal (texts here never hold both kinds of quote).
fn literal(text: &str) -> String {
    if text.contains('\'') {
        format!("\"{text}\"")
    } else {
        format!("'{text}'")
    }
}

impl Page {
    pub async fn open(&self, url: &str) {
        self.client.goto(url).await.expect("the page loads");
    }

    async fn find(&self, xpath: &str) -> fantoccini::elements::Element {
        let found = self
            .client
            .wait()
            .at_most(WAIT)
            .for_element(Locator::XPath(xpath))
            .await;
        match found {
            Ok(element) => element,
            Err(e) => panic!(
                "{}: nothing matches {xpath} ({e}); the page says: {}",
                self.name,
                self.text().await
            ),
        }
    }

    /// Clicks the button whose text (or accessible label) is `text`, once it is there and enabled.
    /// A live page may redraw the button between finding and clicking it: then it is found
    /// again (a few times).
    pub async fn press(&self, text: &str) {
        let text = literal(text);
        let xpath = format!(
            "//button[(normalize-space()={text} or @aria-label={text}) and not(@disabled)]"
        );
        for attempt in 1.. {
            match self.find(&xpath).await.click().await {
                Ok(_) => return,
                Err(e) if attempt < 5 && e.to_string().contains("stale element") => continue,
                Err(e) => panic!("{}: the button {text} does not click: {e}", self.name),
            }
        }
    }

    pub async fn follow(&self, link: &str) {
        let link = literal(link);
        let anchor = self
            .find(&format!(
                "//a[normalize-space()={link} or @aria-label={link}]"
            ))
            .await;
        anchor.click().await.expect("the link clicks");
    }

    /// Types `value` into the input labelled `label`, inside the form labelled `form`.
    pub async fn fill(&self, form: &str, label: &str, value: &str) {
        let (form, label) = (literal(form), literal(label));
        let input = self
            .find(&format!(
                "//form[@aria-label={form}]//input[@id=//label[normalize-space()={label}]/@for]"
            ))
            .await;
        input.clear().await.expect("the input clears");
        input.send_keys(value).await.expect("typing");
    }

    /// The page's visible text right now.
    pub async fn text(&self) -> String {
        self.client
            .execute("return document.body.innerText", vec![])
            .await
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default()
    }

    /// Waits until the visible text inside `scope` (a CSS selector) contains `expected`; returns
    /// that text.
    pub async fn wait_for_text_in(&self, scope: &str, expected: &str) -> String {
        let script = format!(
            "return Array.from(document.querySelectorAll({scope:?})).map(e => e.innerText).join('\\n')"
        );
        let found = eventually(WAIT, || async {
            let text = self.client.execute(&script, vec![]).await.ok()?;
            let text = text.as_str()?.to_owned();
            text.contains(expected).then_some(text)
        })
        .await;
        match found {
            Some(text) => text,
            None => panic!(
                "{}: {scope} never said {expected:?}; the page says: {}",
                self.name,
                self.text().await
            ),
        }
    }

    pub async fn wait_for_text(&self, expected: &str) -> String {
        self.wait_for_text_in("body", expected).await
    }

    /// The message shown above the page (an error or a confirmation), once there is one that
    /// contains `expected`.
    pub async fn message(&self, expected: &str) -> String {
        self.wait_for_text_in("#messages", expected).await
    }

    /// The next message shown above the page, whatever it says (actions clear the last one).
    pub async fn any_message(&self) -> String {
        let found = eventually(WAIT, || async {
            let text = self
                .run("return document.getElementById('messages').innerText")
                .await;
            text.as_str()
                .filter(|t| !t.trim().is_empty())
                .map(str::to_owned)
        })
        .await;
        found.unwrap_or_else(|| panic!("{}: no message was shown", self.name))
    }

    /// Signs in through the storefront's button and the issuer's form, as `role` `id`.
    pub async fn sign_in(&self, role: &str, id: i64) {
        self.press("Sign in").await;
        let radio = self
            .find(&format!(
                "//input[@name='role' and @value={}]",
                literal(role)
            ))
            .await;
        radio.click().await.expect("the role is chosen");
        let id_input = self
            .find("//input[@id=//label[starts-with(normalize-space(),'Id')]/@for]")
            .await;
        id_input.clear().await.expect("clears");
        id_input.send_keys(&id.to_string()).await.expect("typing");
        self.press("Sign in").await;
        self.wait_for_text(&format!("Signed in as {role} {id}"))
            .await;
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        let png = self.client.screenshot().await.expect("a screenshot");
        std::fs::write(path, png).expect("the screenshot is written");
    }

    /// Runs `script` in the page and returns its JSON result.
    pub async fn run(&self, script: &str) -> serde_json::Value {
        self.client
            .execute(script, vec![])
            .await
            .unwrap_or_else(|e| panic!("{}: the script failed: {e}", self.name))
    }
}

/// axe-core's source, read once: `./dev test` installs it and names it in `AXE_CORE_JS`.
fn axe_source() -> &'static str {
    static SOURCE: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    SOURCE.get_or_init(|| {
        let path = std::env::var("AXE_CORE_JS").expect(
            "AXE_CORE_JS names axe.min.js: run the tests with `./dev test`, which installs it",
        );
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"))
    })
}

impl Page {
    /// Runs axe-core over the page as it is now; fails on any violation of impact moderate or
    /// above, naming each rule and the first elements it found.
    pub async fn assert_accessible(&self, what: &str) {
        let found = self.violations().await;
        assert_eq!(
            found,
            json!([]),
            "{}: {what} has accessibility violations",
            self.name
        );
    }

    /// axe-core's violations of impact moderate or above on the page as it is now: each rule,
    /// its impact, what it asks, and the first elements it found.
    pub async fn violations(&self) -> serde_json::Value {
        let loaded = self.run("return typeof window.axe === 'object'").await;
        if loaded != json!(true) {
            self.run(&format!("{}\nreturn true;", axe_source())).await;
        }
        self.client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 axe.run(document, { resultTypes: ['violations'] }).then(
                   (r) => done(r.violations
                     .filter((v) => ['moderate', 'serious', 'critical'].includes(v.impact))
                     .map((v) => ({ rule: v.id, impact: v.impact, help: v.help,
                                    at: v.nodes.slice(0, 3).map((n) => n.target.join(' ')) }))),
                   (e) => done([{ rule: 'axe failed', help: String(e) }]));",
                vec![],
            )
            .await
            .expect("axe runs")
    }

    /// Every button and every link outside running text is at least 24 px tall and wide
    /// (WCAG 2.2's target size); returns the ones that are not.
    pub async fn small_targets(&self) -> serde_json::Value {
        self.run(
            "return [...document.querySelectorAll('button, a[href]')]
               .filter((e) => e.offsetParent !== null && !e.closest('p'))
               .map((e) => ({ text: e.innerText.trim() || e.getAttribute('aria-label'), r: e.getBoundingClientRect() }))
               .filter(({ r }) => r.height < 24 || r.width < 24)
               .map(({ text, r }) => `${text}: ${Math.round(r.width)}x${Math.round(r.height)}`)",
        )
        .await
    }
}
