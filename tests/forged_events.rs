//! Events that do not fit where they came from, or what their consumer knows, against the whole
//! stack (#29): each is dead-lettered with its reason by the consumer that refused it, nothing
//! changes, and the order's real saga goes on. Each record is produced as its topic's owner
//! (`support::bus`), the only one the broker lets write there (tests/brokers.rs): what is tested
//! here is an owner, compromised or broken, writing what it must not.

mod support;

use contracts::{
    DeliveryChanged, DeliveryStatus, Envelope, Event, OrderCancelled, OrderPlaced,
    PaymentCompleted, ProductUpdated, Topic,
};
use serde_json::{Value, json};
use stack::Stack;
use support::bus::publish_as;
use support::{WAIT, get, place_order, register_kit, sign_in, start_stack, wait_field};
use testkit::{Http, eventually};

/// A stack with one kit of seller 1 and customer 1's order for it, its delivery requested.
struct Shop {
    stack: Stack,
    customer: Http,
    admin: Http,
    kit: i64,
    order: i64,
}

impl Shop {
    async fn open() -> Self {
        let stack = start_stack(&[]).await;
        let g = stack.gateway_url.clone();
        let kit = register_kit(&g, 1, 10).await;
        let customer = sign_in(&g, "customer", 1).await;
        let order = support::order_one(&customer, &g, kit, "Seoul").await;
        wait_field(
            &customer,
            format!("{g}/orders/{order}"),
            "status",
            "DELIVERY_REQUESTED",
        )
        .await;
        let admin = sign_in(&g, "admin", 1).await;
        Self {
            stack,
            customer,
            admin,
            kit,
            order,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.stack.gateway_url)
    }

    /// Publishes `envelope` on `topic` as the topic's owner.
    async fn publish(&self, topic: Topic, envelope: &Envelope) {
        let owner = topic.owner().expect("an event topic");
        publish_as(&self.stack, owner, topic, envelope).await;
    }

    /// Waits until `service` has dead-lettered `envelope`; asserts its reason holds `why`.
    async fn refused_by(&self, service: &str, envelope: &Envelope, why: &str) {
        let id = envelope.event_id.to_string();
        let listed = eventually(WAIT, || async {
            let (_, letters) = self
                .admin
                .get(&self.url("/dead-letters?status=WAITING"))
                .await;
            letters
                .as_array()?
                .iter()
                .find(|l| l["eventId"] == id && l["service"] == service)
                .cloned()
        })
        .await
        .unwrap_or_else(|| panic!("{service} dead-lettered {}", envelope.event_type()));
        let reason = listed["error"].as_str().unwrap_or_default();
        assert!(reason.contains(why), "{service}: {reason}");
    }

    /// The first row of `resource` (`orders`, `payments`, `deliveries`) about the order.
    async fn status_of(&self, resource: &str) -> Value {
        let found = if resource == "orders" {
            get(&self.customer, self.url(&format!("/orders/{}", self.order))).await
        } else {
            let path = format!("/{resource}?orderId={}", self.order);
            get(&self.customer, self.url(&path)).await[0].clone()
        };
        found["status"].clone()
    }

    /// Nothing the refused events asked for happened.
    async fn unchanged(&self) {
        assert_eq!(self.status_of("orders").await, "DELIVERY_REQUESTED");
        assert_eq!(self.status_of("payments").await, "APPROVED");
        assert_eq!(self.status_of("deliveries").await, "REQUESTED");
    }
}

/// A `Delivery*` event of seller 1's delivery 1 for `order_id`, naming `customer_id`.
fn delivery(
    event: fn(DeliveryChanged) -> Event,
    status: DeliveryStatus,
    order_id: i64,
    customer_id: i64,
) -> Envelope {
    let change = DeliveryChanged {
        delivery_id: 1,
        order_id,
        customer_id,
        seller_id: 1,
        status,
    };
    Envelope::new("delivery", event(change))
}

fn price_one(source: &str, kit: i64) -> Envelope {
    let update = ProductUpdated {
        product_id: kit,
        seller_id: Some(1),
        name: "Bulgogi kit".into(),
        price: 1,
        stock: 10,
    };
    Envelope::new(source, Event::ProductUpdated(update))
}

/// A price from anyone but product, or on another topic: order's replica keeps the real one.
async fn forged_prices(shop: &Shop) {
    let from_payment = price_one("payment", shop.kit);
    shop.publish(Topic::Product, &from_payment).await;
    shop.refused_by("order", &from_payment, "only product publishes there")
        .await;
    let misplaced = price_one("product", shop.kit);
    shop.publish(Topic::Payment, &misplaced).await;
    shop.refused_by("product", &misplaced, "does not belong on mealkit.payment")
        .await;
    let body = json!({"productId": shop.kit, "qty": 2});
    let (status, order) = place_order(&shop.customer, &shop.stack.gateway_url, body).await;
    assert_eq!(
        (status, order["amount"].clone()),
        (201, json!(20000)),
        "{order}"
    );
}

/// A cancellation from marketing; the delivery's, naming another customer: nobody refunds.
async fn forged_cancellations(shop: &Shop) {
    let cancelled = OrderCancelled {
        order_id: shop.order,
        customer_id: 1,
        seller_id: 1,
        product_id: shop.kit,
        qty: 1,
        reason: contracts::CancelReason::CustomerRequest,
    };
    let from_marketing = Envelope::new("marketing", Event::OrderCancelled(cancelled));
    shop.publish(Topic::Order, &from_marketing).await;
    shop.refused_by("delivery", &from_marketing, "only order publishes there")
        .await;
    let someone_else = delivery(
        Event::DeliveryCancelled,
        DeliveryStatus::Cancelled,
        shop.order,
        2,
    );
    shop.publish(Topic::Delivery, &someone_else).await;
    shop.refused_by(
        "payment",
        &someone_else,
        "paid by customer 1 to seller 1, not 2",
    )
    .await;
    shop.refused_by(
        "order",
        &someone_else,
        "is customer 1's of seller 1, not 2's",
    )
    .await;
    shop.unchanged().await;
}

/// The order handed to another customer, a payment on delivery's topic: refused.
async fn forged_owners(shop: &Shop) {
    let placed = OrderPlaced {
        order_id: shop.order,
        customer_id: 666,
        seller_id: 1,
        product_id: shop.kit,
        product_name: "Bulgogi kit".into(),
        qty: 1,
        amount: 10000,
        address: "Seoul".into(),
    };
    let handed_over = Envelope::new("order", Event::OrderPlaced(placed));
    shop.publish(Topic::Order, &handed_over).await;
    shop.refused_by("sellerpage", &handed_over, "is customer 1's of seller 1")
        .await;
    let journey = shop.url(&format!("/orders/{}/journey", shop.order));
    assert_eq!(
        shop.customer.get(&journey).await.0,
        200,
        "still the customer's"
    );
    let attacker = sign_in(&shop.stack.gateway_url, "customer", 666).await;
    assert_eq!(attacker.get(&journey).await.0, 404);
    let paid = PaymentCompleted {
        payment_id: 99,
        order_id: shop.order,
        customer_id: 1,
        seller_id: 1,
        product_id: shop.kit,
        qty: 5,
        amount: 1,
        address: "Seoul".into(),
    };
    let misplaced = Envelope::new("payment", Event::PaymentCompleted(paid));
    shop.publish(Topic::Delivery, &misplaced).await;
    shop.refused_by("order", &misplaced, "does not belong on mealkit.delivery")
        .await;
    let completed = delivery(
        Event::DeliveryCompleted,
        DeliveryStatus::Completed,
        shop.order,
        2,
    );
    shop.publish(Topic::Delivery, &completed).await;
    shop.refused_by("order", &completed, "is customer 1's of seller 1, not 2's")
        .await;
    shop.unchanged().await;
}

/// The real saga goes on: the seller ships, the customer confirms, the payment is kept.
async fn delivered_for_real(shop: &Shop) {
    let id = get(
        &shop.customer,
        shop.url(&format!("/deliveries?orderId={}", shop.order)),
    )
    .await[0]["id"]
        .clone();
    let seller = sign_in(&shop.stack.gateway_url, "seller", 1).await;
    assert_eq!(
        seller
            .post(&shop.url(&format!("/deliveries/{id}/start")), json!({}))
            .await
            .0,
        200
    );
    let complete = shop.url(&format!("/deliveries/{id}/complete"));
    assert_eq!(shop.customer.post(&complete, json!({})).await.0, 200);
    wait_field(
        &shop.customer,
        shop.url(&format!("/orders/{}", shop.order)),
        "status",
        "DELIVERED",
    )
    .await;
    assert_eq!(shop.status_of("payments").await, "APPROVED");
}

#[tokio::test]
async fn events_from_the_wrong_place_or_against_what_consumers_know_are_dead_lettered() {
    let shop = Shop::open().await;
    forged_prices(&shop).await;
    forged_cancellations(&shop).await;
    forged_owners(&shop).await;
    delivered_for_real(&shop).await;
    support::stop_stack(shop.stack).await;
}
