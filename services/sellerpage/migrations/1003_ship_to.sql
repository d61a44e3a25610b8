-- Where the seller ships an order (from OrderPlaced); older rows have none.
ALTER TABLE seller_orders ADD COLUMN address TEXT;
