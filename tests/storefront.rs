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
        seller.sign_in("seller", 7).await;
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
        customer.sign_in("customer", 42).await;
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
        phone.wait_for_text("Signed in as customer 43").await;

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

        // A good card.
        phone
            .fill("Order Bulgogi kit", "Card number", "4111 1111 1111 1111")
            .await;
        let order = place_order(&phone).await;
        journey_says(&phone, "Delivery requested").await;
        assert_usable(&phone, &g).await;

        // Marketing down: the cancel is refused with the seed's fallback, and nothing changes.
        stack_ref.stop_service("marketing").await;
        phone.press("Cancel order").await;
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
            phone.press("Cancel order").await;
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
