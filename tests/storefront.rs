//! The storefront in real headless Chromium, through the gateway of a whole stack: the seed
//! scenario clicked through by a seller and a customer, each in their own browser, and every
//! refusal shown as a sentence on a phone-sized screen driven by the keyboard alone.
//!
//! With `UPDATE_SCREENSHOTS=1` the first test also writes the README's screenshots
//! (`tests/screenshots/`).

mod support;

use std::path::PathBuf;

use serde_json::json;
use support::browser::{DESKTOP, PHONE, Page, Scene};
use support::{WAIT, get, register_kit, sign_in, start_stack, stop_stack};
use testkit::eventually;

/// The WebDriver codes of the two keys a keyboard user needs here.
const TAB: &str = "\u{E004}";
const ENTER: &str = "\u{E007}";

/// Where the README's screenshots are written, when asked to.
fn readme_screenshot(name: &str) -> Option<PathBuf> {
    std::env::var_os("UPDATE_SCREENSHOTS").map(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("screenshots")
            .join(format!("{name}.png"))
    })
}

async fn keep_screenshot(page: &Page, name: &str) {
    if let Some(path) = readme_screenshot(name) {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        page.screenshot(&path).await;
    }
}

/// Presses "Place order" until order's replica of the catalog knows a kit registered moments
/// ago (until then the API answers, and the page says, that it cannot be ordered yet, storing
/// nothing); returns the new order's id from the page's address.
async fn place_order(page: &Page) -> i64 {
    let placed = eventually(WAIT, || async {
        page.press("Place order").await;
        let placed = eventually(std::time::Duration::from_secs(3), || async {
            let url = page.client.current_url().await.ok()?;
            let fragment = url.fragment()?.strip_prefix("/orders/")?.to_owned();
            fragment.parse::<i64>().ok()
        })
        .await;
        if placed.is_none() {
            let said = page.any_message().await;
            assert!(
                said.contains("cannot be ordered yet"),
                "the order was refused: {said}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        }
        placed
    })
    .await;
    placed.expect("the order was placed")
}

/// The journey's text on an order page.
async fn journey_says(page: &Page, step: &str) {
    page.wait_for_text_in("ol.journey", step).await;
}

#[tokio::test]
async fn a_seller_and_a_customer_click_through_the_seed_scenario() {
    let stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    Scene::play("seed_scenario", |scene| async move {
        // The seller signs in, registers a kit and corrects its stock.
        let seller = scene.browser("seller", DESKTOP).await;
        seller.open(&format!("{g}/")).await;
        sign_in_as_demo(&seller, "Seoul Kitchen (seller 7)", "Seoul Kitchen").await;
        seller.follow("Seller console").await;
        seller.fill("Register a kit", "Name", "Bibimbap kit").await;
        seller.fill("Register a kit", "Price (KRW)", "12900").await;
        seller.fill("Register a kit", "Stock", "10").await;
        seller.press("Register kit").await;
        seller.message("Bibimbap kit is registered").await;
        seller.press("Edit Bibimbap kit").await;
        seller.fill("Edit Bibimbap kit", "Stock", "12").await;
        seller.press("Save").await;
        seller.message("Bibimbap kit is saved").await;
        seller.wait_for_text("12 in stock").await;

        // The customer sees it without signing in, signs in and orders two.
        let customer = scene.browser("customer", DESKTOP).await;
        customer.open(&format!("{g}/")).await;
        let catalog = customer.wait_for_text("Bibimbap kit").await;
        assert!(
            catalog.contains("12,900 KRW") && catalog.contains("12 in stock"),
            "{catalog}"
        );
        sign_in_as_demo(&customer, "Alice (customer 42)", "Alice").await;
        keep_screenshot(&customer, "catalog").await;
        customer.follow("Order Bibimbap kit").await;
        customer.fill("Order Bibimbap kit", "Quantity", "2").await;
        customer
            .fill("Order Bibimbap kit", "Delivery address", "Seoul")
            .await;
        let first = place_order(&customer).await;
        customer.wait_for_text("25,800 KRW").await;
        // The journey moves by itself: nobody reloads the page.
        journey_says(&customer, "Paid").await;
        journey_says(&customer, "Delivery requested").await;
        customer.wait_for_text_in("dl", "Delivery requested").await;
        keep_screenshot(&customer, "journey").await;

        // The seller's console shows the order by itself; the seller ships it.
        let console = seller
            .wait_for_text_in(
                "section[aria-labelledby=your-orders]",
                &format!("Order #{first}"),
            )
            .await;
        assert!(console.contains("2 × Bibimbap kit"), "{console}");
        seller.press(&format!("Ship order #{first}")).await;
        seller.message("is on its way").await;

        // The customer's page learns it was shipped, and the customer confirms receipt.
        customer.wait_for_text_in("dl", "On its way").await;
        journey_says(&customer, "Shipped").await;
        customer.press("Confirm receipt").await;
        customer.message("the delivery is confirmed").await;
        customer.wait_for_text_in("dl", "Delivered").await;
        journey_says(&customer, "Delivered").await;
        customer.wait_for_text("This order is complete.").await;
        customer.wait_for_text("has been requested").await; // a notification, on the order's page

        // Notifications, all of them.
        customer.follow("Notifications").await;
        customer
            .wait_for_text(&format!(
                "Your order #{first} is confirmed: 2 x Bibimbap kit"
            ))
            .await;

        // A second order, cancelled: the chain runs and the seller's console follows it.
        customer.follow("Kits").await;
        customer.follow("Order Bibimbap kit").await;
        customer.fill("Order Bibimbap kit", "Quantity", "3").await;
        customer
            .fill("Order Bibimbap kit", "Delivery address", "Seoul")
            .await;
        let second = place_order(&customer).await;
        journey_says(&customer, "Delivery requested").await;
        customer.press("Cancel order").await;
        customer.press("Yes, cancel the order").await;
        customer.message("Cancellation requested").await;
        journey_says(&customer, "Stock restored").await;
        customer.wait_for_text_in("dl", "Cancelled").await;
        let cancellations = seller
            .wait_for_text_in("section[aria-labelledby=your-cancellations]", "Cancelled")
            .await;
        assert!(
            cancellations.contains(&format!("Order #{second}"))
                && cancellations.contains("Customer request")
                && cancellations.contains("✓ Stock restored"),
            "{cancellations}"
        );
        seller
            .run("document.getElementById('your-orders').scrollIntoView()")
            .await;
        keep_screenshot(&seller, "seller-console").await;

        // What the pages showed is what the API holds: 12 - 2 delivered, the 3 back.
        let kits = get(
            &testkit::Http::default(),
            format!("{g}/products?sellerId=7"),
        )
        .await;
        assert_eq!(kits[0]["stock"], 10, "{kits}");
        let alice = sign_in(&g, "customer", 42).await;
        let orders = get(&alice, format!("{g}/orders")).await;
        let statuses: Vec<&str> = orders
            .as_array()
            .unwrap()
            .iter()
            .map(|o| o["status"].as_str().unwrap())
            .collect();
        assert_eq!(statuses.len(), 2, "{orders}");
        assert!(statuses.contains(&"DELIVERED") && statuses.contains(&"CANCELLED"));
    })
    .await;
    stop_stack(stack).await;
}

/// Tabs through the page until the focused element is called `name` (its text, label or
/// accessible name); fails after 40 stops.
async fn tab_to(page: &Page, name: &str) {
    const FOCUSED: &str = "const e = document.activeElement; \
        return ((e.labels && e.labels[0] && e.labels[0].innerText) || e.getAttribute('aria-label') \
        || e.innerText || '').trim()";
    let mut seen = Vec::new();
    for _ in 0..40 {
        let focused = page
            .client
            .active_element()
            .await
            .expect("something has focus");
        focused.send_keys(TAB).await.expect("Tab");
        let now = page.run(FOCUSED).await;
        let now = now.as_str().unwrap_or_default().to_owned();
        if now == name {
            return;
        }
        seen.push(now);
    }
    panic!(
        "{}: Tab never reached {name:?}; it went {seen:?}",
        page.name
    );
}

async fn type_keys(page: &Page, keys: &str) {
    let focused = page
        .client
        .active_element()
        .await
        .expect("something has focus");
    focused.send_keys(keys).await.expect("typing");
}

/// What a page must hold for people who use a screen reader, the keyboard or a phone: a label
/// on every control, a name on every button, nothing wider than the screen, and nothing loaded
/// from anywhere but the gateway.
async fn assert_usable(page: &Page, gateway: &str) {
    let report = page
        .run(
            "const controls = [...document.querySelectorAll('input:not([type=hidden]), select, textarea')];
             const buttons = [...document.querySelectorAll('button, a[href]')];
             return {
               unlabelled: controls.filter(c => !(c.labels && c.labels.length) && !c.getAttribute('aria-label')).map(c => c.outerHTML),
               unnamed: buttons.filter(b => !(b.innerText.trim() || b.getAttribute('aria-label'))).map(b => b.outerHTML),
               overflow: document.documentElement.scrollWidth - window.innerWidth,
               resources: performance.getEntriesByType('resource').map(r => r.name).concat([location.href]),
             };",
        )
        .await;
    assert_eq!(
        report["unlabelled"],
        json!([]),
        "{}: controls without a label",
        page.name
    );
    assert_eq!(
        report["unnamed"],
        json!([]),
        "{}: buttons or links without a name",
        page.name
    );
    assert!(
        report["overflow"].as_i64().unwrap_or(0) <= 0,
        "{}: the page is wider than the screen: {report}",
        page.name
    );
    for resource in report["resources"].as_array().unwrap() {
        assert!(
            resource.as_str().unwrap_or_default().starts_with(gateway),
            "{}: {resource} is not served by the gateway",
            page.name
        );
    }
}

#[tokio::test]
async fn refusals_are_sentences_on_a_phone_driven_by_the_keyboard() {
    let mut stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    register_kit(&g, 7, 5).await;
    let stack_ref = &mut stack;
    Scene::play("refusals", |scene| async move {
        let phone = scene.browser("customer", PHONE).await;
        phone.open(&format!("{g}/")).await;
        phone.wait_for_text("Bulgogi kit").await;
        assert_usable(&phone, &g).await;

        // Signed out, a customer's page asks to sign in rather than failing.
        phone.open(&format!("{g}/#/orders")).await;
        phone
            .wait_for_text("This page is for a signed-in customer.")
            .await;

        // Sign in with the keyboard alone: a demo customer picked on the issuer's form.
        phone.open(&format!("{g}/")).await;
        phone.wait_for_text("Bulgogi kit").await;
        tab_to(&phone, "Sign in").await;
        type_keys(&phone, ENTER).await;
        phone.wait_for_text("Demo people").await;
        assert_usable(&phone, &g).await;
        tab_to(&phone, "Bob (customer 43)").await;
        type_keys(&phone, ENTER).await;
        // A demo person has a name, and the header says it.
        phone.wait_for_text("Signed in as Bob").await;

        // The declined card, typed with the keyboard: a sentence, and nothing placed.
        tab_to(&phone, "Order Bulgogi kit").await;
        type_keys(&phone, ENTER).await;
        phone.wait_for_text("Place order").await;
        assert_usable(&phone, &g).await;
        tab_to(&phone, "Delivery address").await;
        type_keys(&phone, "Busan").await;
        tab_to(&phone, "Card number").await;
        type_keys(&phone, "4000 0000 0000 0002").await;
        let declined = eventually(WAIT, || async {
            type_keys(&phone, ENTER).await;
            let said = phone.any_message().await;
            // Until order's replica has the kit, the product is unknown: press again.
            let unknown = said.contains("cannot be ordered yet");
            if unknown {
                tokio::time::sleep(std::time::Duration::from_millis(500)).await;
            }
            (!unknown).then_some(said)
        })
        .await
        .expect("an answer other than unknown product");
        assert!(declined.contains("The card was declined"), "{declined}");
        assert!(!declined.contains('{'), "a sentence, not JSON: {declined}");
        let bob = sign_in(&g, "customer", 43).await;
        let orders = get(&bob, format!("{g}/orders")).await;
        assert!(
            orders
                .as_array()
                .unwrap()
                .iter()
                .all(|o| o["status"] == "REJECTED"),
            "nothing is placed: {orders}"
        );

        // A declined payment placed nothing, so it is no order to list.
        phone.follow("My orders").await;
        phone.wait_for_text("No orders yet").await;
        phone.client.back().await.unwrap();
        phone.wait_for_text("Place order").await;

        // A good card.
        phone
            .fill("Order Bulgogi kit", "Delivery address", "Busan")
            .await;
        phone
            .fill("Order Bulgogi kit", "Card number", "4111 1111 1111 1111")
            .await;
        let order = place_order(&phone).await;
        journey_says(&phone, "Delivery requested").await;
        assert_usable(&phone, &g).await;

        // Marketing down: the cancel is refused with the seed's fallback, and nothing changes.
        stack_ref.stop_service("marketing").await;
        phone.press("Cancel order").await;
        phone.press("Yes, cancel the order").await;
        let fallback = phone.any_message().await;
        assert!(
            fallback.contains("nothing changed") && fallback.contains("try cancelling again"),
            "{fallback}"
        );
        // The page keeps working without marketing: only its notifications are missing, and
        // the fallback stays in view.
        phone
            .wait_for_text("Notifications cannot be shown just now")
            .await;
        phone.message("nothing changed").await;
        let status = phone
            .run("return document.querySelector('[data-order-status]').dataset.orderStatus")
            .await;
        assert_eq!(status, json!("DELIVERY_REQUESTED"));
        let stored = get(&bob, format!("{g}/orders/{order}")).await;
        assert_eq!(stored["status"], "DELIVERY_REQUESTED", "{stored}");
        stack_ref
            .restart_service("marketing")
            .await
            .expect("marketing starts again");
        let accepted = eventually(WAIT, || async {
            // The question stays while the order has not changed.
            phone.press("Yes, cancel the order").await;
            let said = phone.any_message().await;
            let accepted = said.contains("Cancellation requested");
            if !accepted {
                tokio::time::sleep(std::time::Duration::from_secs(1)).await;
            }
            accepted.then_some(())
        })
        .await;
        assert!(
            accepted.is_some(),
            "the cancel went through once marketing was back"
        );
        journey_says(&phone, "Stock restored").await;

        // An order that is not theirs (or not at all) is "not found", in words.
        phone.open(&format!("{g}/#/orders/999999")).await;
        let missing = phone.wait_for_text("Not found").await;
        assert!(!missing.contains("\"error\""), "{missing}");

        // A service down: the page says so, without a blank page.
        stack_ref.stop_service("order").await;
        phone.open(&format!("{g}/#/orders")).await;
        let down = phone.message("unavailable").await;
        assert!(down.contains("try again"), "{down}");
        phone.wait_for_text("Something went wrong").await;
    })
    .await;
    stop_stack(stack).await;
}

/// Signs in on the issuer's form by picking a demo person (`button`, e.g. "Alice (customer 42)").
async fn sign_in_as_demo(page: &Page, button: &str, name: &str) {
    page.press("Sign in").await;
    page.press(button).await;
    page.wait_for_text(&format!("Signed in as {name}")).await;
}

/// Milliseconds from the last click on `button` to the moment `selector`'s text first held
/// `text`, measured in the page (a MutationObserver) so polling by the test adds nothing.
async fn start_stopwatch(page: &Page, button: &str, selector: &str, text: &str) {
    page.run(&format!(
        "window.__shown = undefined;
         document.addEventListener('click', (e) => {{
           if (e.target.closest('button')?.textContent === {button:?}) window.__clicked = performance.now();
         }}, true);
         const check = () => {{
           const el = document.querySelector({selector:?});
           if (window.__shown === undefined && el && el.innerText.includes({text:?})) window.__shown = performance.now();
         }};
         new MutationObserver(check).observe(document.body, {{ subtree: true, childList: true, characterData: true }});
         return true;"
    ))
    .await;
}

async fn stopwatch(page: &Page) -> f64 {
    let elapsed = eventually(WAIT, || async {
        page.run("return window.__shown - window.__clicked")
            .await
            .as_f64()
    })
    .await;
    elapsed.expect("the text appeared after the click")
}

/// How many times the elements `selector` names change in `window`, nothing being done.
async fn mutations_while_idle(page: &Page, selector: &str, window: std::time::Duration) -> i64 {
    page.run(&format!(
        "window.__mutations = 0;
         for (const el of document.querySelectorAll({selector:?}))
           new MutationObserver((m) => {{ window.__mutations += m.length; }})
             .observe(el, {{ subtree: true, childList: true, characterData: true, attributes: true }});
         return true;"
    ))
    .await;
    tokio::time::sleep(window).await;
    page.run("return window.__mutations")
        .await
        .as_i64()
        .unwrap()
}

async fn focused_key(page: &Page) -> serde_json::Value {
    page.run("return document.activeElement.dataset.key ?? document.activeElement.tagName")
        .await
}

#[tokio::test]
async fn the_shop_speaks_to_people_and_follows_them_live() {
    let stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let kit = register_kit(&g, 7, 10).await;
    Scene::play("people", |scene| async move {
        let customer = scene.browser("customer", DESKTOP).await;
        customer.open(&format!("{g}/")).await;
        customer.wait_for_text("Bulgogi kit").await;

        // "Skip to content" moves focus to the content; it is no route.
        tab_to(&customer, "Skip to content").await;
        type_keys(&customer, ENTER).await;
        let after = customer
            .run("return [location.hash, document.activeElement.id, document.querySelector('h1').innerText]")
            .await;
        assert_eq!(after, json!(["", "main", "Meal kits"]));

        // Assets come compressed, revalidate with their ETag; the icon is there.
        let sizes = customer
            .run("return performance.getEntriesByType('resource').filter((r) => r.name.endsWith('/assets/app.js'))
                   .map((r) => [r.encodedBodySize, r.decodedBodySize])[0]")
            .await;
        assert!(sizes[0].as_i64() < sizes[1].as_i64(), "app.js came compressed: {sizes}");
        let http = reqwest::Client::new();
        let asset = http
            .get(format!("{g}/assets/app.js"))
            .header("accept-encoding", "gzip")
            .send()
            .await
            .unwrap();
        assert_eq!(asset.headers()["content-encoding"], "gzip");
        let etag = asset.headers()["etag"].clone();
        let again = http
            .get(format!("{g}/assets/app.js"))
            .header("accept-encoding", "gzip")
            .header("if-none-match", etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304);
        let icon = http.get(format!("{g}/favicon.ico")).send().await.unwrap();
        assert_eq!(
            (icon.status().as_u16(), icon.headers()["content-type"].to_str().unwrap()),
            (200, "image/svg+xml")
        );

        // A demo person is greeted by name; nothing says "null".
        sign_in_as_demo(&customer, "Alice (customer 42)", "Alice").await;
        assert!(!customer.text().await.contains("null"));

        // The total before paying; a refusal in words.
        customer.follow("Order Bulgogi kit").await;
        customer.fill("Order Bulgogi kit", "Quantity", "3").await;
        customer.wait_for_text("Total: 30,000 KRW").await;
        customer
            .fill("Order Bulgogi kit", "Delivery address", "Seoul")
            .await;
        customer.fill("Order Bulgogi kit", "Card number", "12").await;
        customer.press("Place order").await;
        customer
            .message("The card number must be 12 to 19 digits")
            .await;
        customer.fill("Order Bulgogi kit", "Card number", "").await;

        // From "Place order" to "Delivery requested" on the page, followed live.
        start_stopwatch(&customer, "Place order", "ol.journey", "Delivery requested").await;
        let first = place_order(&customer).await;
        journey_says(&customer, "Delivery requested").await;
        let took = stopwatch(&customer).await;
        println!("place order -> \"Delivery requested\" on the page: {took:.0} ms");
        customer.wait_for_text("Updates live").await;
        let page = customer.text().await;
        for developer in ["sellerpage", "marketing", "SYSTEM", "COURIER", "product #", "_"] {
            assert!(!page.contains(developer), "{developer:?} on the page: {page}");
        }

        // The seller: ship-to, a console that keeps its place and says nothing when nothing
        // changes.
        let seller = scene.browser("seller", DESKTOP).await;
        seller.open(&format!("{g}/")).await;
        sign_in_as_demo(&seller, "Seoul Kitchen (seller 7)", "Seoul Kitchen").await;
        seller.follow("Seller console").await;
        let orders = seller
            .wait_for_text_in("#your-orders + div", &format!("Order #{first}"))
            .await;
        assert!(orders.contains("Ship to Seoul · customer 42"), "{orders}");
        seller.wait_for_text("Updates live").await;
        let idle = mutations_while_idle(
            &seller,
            "main section",
            std::time::Duration::from_millis(2500),
        )
        .await;
        assert_eq!(idle, 0, "the console changed while nothing happened");
        let asked = seller
            .run("return performance.getEntriesByType('resource').length")
            .await;
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
        let asked_later = seller
            .run("return performance.getEntriesByType('resource').length")
            .await;
        assert_eq!(asked, asked_later, "the console asked while nothing changed");
        let edit = format!("edit-{kit}");
        seller
            .run(&format!("document.querySelector('[data-key={edit}]').focus(); return true"))
            .await;
        let bob = sign_in(&g, "customer", 43).await;
        let second = support::order_one(&bob, &g, kit, "Busan").await;
        seller
            .wait_for_text_in("#your-orders + div", &format!("Order #{second}"))
            .await;
        seller.wait_for_text("6 in stock").await; // 10, less 3 and 1
        assert_eq!(focused_key(&seller).await, json!(edit), "focus kept across refreshes");
        seller.press("Edit Bulgogi kit").await;
        seller.fill("Edit Bulgogi kit", "Stock", "20").await;
        seller.press("Save").await;
        seller.message("Bulgogi kit is saved").await;
        assert_eq!(focused_key(&seller).await, json!(edit), "focus back on Edit after Save");

        // Kit names: visible characters, a sensible length, wrapped on a phone.
        seller.fill("Register a kit", "Name", "\u{200B}").await;
        seller.fill("Register a kit", "Price (KRW)", "9000").await;
        seller.fill("Register a kit", "Stock", "3").await;
        seller.press("Register kit").await;
        seller.message("The name must not be empty").await;
        let long = "Gochujang".repeat(11);
        seller.fill("Register a kit", "Name", &long).await;
        seller.press("Register kit").await;
        seller.message("is registered").await;
        let phone = scene.browser("phone", PHONE).await;
        phone.open(&format!("{g}/")).await;
        phone.wait_for_text(&long[..40]).await;
        assert_usable(&phone, &g).await;

        // A step shows on the customer's page as soon as it happens.
        seller.press(&format!("Ship order #{first}")).await;
        journey_says(&customer, "Shipped").await;

        // Cancelling asks first; failure looks like failure.
        customer.press("Cancel order").await;
        customer.wait_for_text(&format!("Cancel order #{first}?")).await;
        customer.press("Keep the order").await;
        let alice = sign_in(&g, "customer", 42).await;
        let kept = get(&alice, format!("{g}/orders/{first}")).await;
        assert_eq!(kept["status"], "SHIPPING", "{kept}");
        customer.press("Cancel order").await;
        customer.press("Yes, cancel the order").await;
        customer.message("Cancellation requested").await;
        journey_says(&customer, "Stock restored").await;
        customer.wait_for_text_in("dl", "Cancelled").await;
        let tones = customer
            .run("return [document.querySelector('[data-order-status]').className,
                          [...document.querySelectorAll('ol.journey li.failed strong')].map((s) => s.innerText)]")
            .await;
        assert_eq!(tones, json!(["status stopped", ["Cancellation requested", "Delivery cancelled"]]));
        let words = customer
            .client
            .execute_async(
                "const done = arguments[arguments.length - 1];
                 import('/assets/words.js').then((w) => done([w.tone('DELIVERED'), w.tone('REJECTED'), w.failedStep.has('STOCK_SHORT')]));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(words, json!(["status done", "status stopped", true]));

        // The session lost mid-order: a sentence, a way back in, and the form kept.
        customer.follow("Kits").await;
        customer.follow("Order Bulgogi kit").await;
        customer
            .fill("Order Bulgogi kit", "Delivery address", "Busan")
            .await;
        customer
            .run("const s = JSON.parse(sessionStorage.getItem('mealkit.session'));
                  s.token = 'expired.' + s.token; sessionStorage.setItem('mealkit.session', JSON.stringify(s)); return true")
            .await;
        customer.press("Place order").await;
        let lost = customer.message("Your session has ended").await;
        assert!(!lost.contains("Bearer"), "{lost}");
        let header = customer
            .run("return document.getElementById('who').innerText")
            .await;
        assert_eq!(header, json!("Sign in"), "the header no longer greets anyone");
        let kept = customer
            .run("return document.querySelector('input[autocomplete=street-address]').value")
            .await;
        assert_eq!(kept, json!("Busan"), "what was typed is kept");
        // Signing in again comes back to the same page.
        customer.press("Sign in again").await;
        customer.press("Alice (customer 42)").await;
        customer.wait_for_text("Signed in as Alice").await;
        customer.wait_for_text("Place order").await;
    })
    .await;
    stop_stack(stack).await;
}

/// Opens `route`, waits for its heading, and checks it with axe-core and for small targets.
async fn visit(page: &Page, g: &str, route: &str, heading: &str) {
    page.open(&format!("{g}/{route}")).await;
    page.wait_for_text_in("h1", heading).await;
    page.assert_accessible(route).await;
    let small = page.small_targets().await;
    assert_eq!(
        small,
        json!([]),
        "{}: small tap targets on {route}",
        page.name
    );
}

#[tokio::test]
async fn every_page_passes_axe_signed_in_and_out_on_a_phone_and_a_laptop() {
    let stack = start_stack(&[]).await;
    let g = stack.gateway_url.clone();
    let kit = register_kit(&g, 7, 10).await;
    let alice = sign_in(&g, "customer", 42).await;
    let order = support::order_one(&alice, &g, kit, "Seoul").await;
    Scene::play("axe", |scene| async move {
        for (size, name) in [(PHONE, "phone"), (DESKTOP, "laptop")] {
            let page = scene.browser(name, size).await;
            // Signed out. First, the checker finds what it should: an image without a text.
            visit(&page, &g, "#/", "Meal kits").await;
            page.run("document.querySelector('main').append(Object.assign(document.createElement('img'), { src: '/assets/icon.svg', id: 'probe' })); return true")
                .await;
            let found = page.violations().await;
            assert_eq!(found[0]["rule"], "image-alt", "{found}");
            page.run("document.getElementById('probe').remove(); return true").await;
            visit(&page, &g, &format!("#/kits/{kit}"), "Bulgogi kit").await;
            visit(&page, &g, "#/orders", "Please sign in").await;
            visit(&page, &g, "#/nowhere", "Not found").await;
            page.press("Sign in").await;
            page.wait_for_text("Demo people").await;
            page.assert_accessible("the sign-in form").await;
            page.press("Alice (customer 42)").await;
            page.wait_for_text("Signed in as Alice").await;
            // A customer.
            visit(&page, &g, "#/", "Meal kits").await;
            visit(&page, &g, &format!("#/kits/{kit}"), "Order Bulgogi kit").await;
            visit(&page, &g, "#/orders", "My orders").await;
            visit(&page, &g, &format!("#/orders/{order}"), &format!("Order #{order}")).await;
            page.wait_for_text_in("ol.journey", "Delivery requested").await;
            page.assert_accessible("an order's journey").await;
            visit(&page, &g, "#/notifications", "Notifications").await;
            // A seller.
            page.press("Sign out").await;
            page.open(&format!("{g}/")).await;
            // Typed by hand, the person has no name: the header falls back to role and id.
            page.sign_in("seller", 7).await;
            visit(&page, &g, "#/console", "Seller console").await;
            page.wait_for_text_in("#your-orders + div", &format!("Order #{order}")).await;
            page.assert_accessible("the seller console with an order").await;
            visit(&page, &g, "#/notifications", "Notifications").await;
        }
    })
    .await;
    stop_stack(stack).await;
}
