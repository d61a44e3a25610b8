-- Each kit's stock as product last announced it, so that POST /orders refuses a quantity above
-- it before anything is stored or charged (product still has the last word: an order that
-- slips past a stale value is cancelled and refunded on its StockShortage).
-- `stock_as_of` is the `occurred_at` of the event `stock` came from: stock events reach order
-- out of order (they are keyed by order, catalog events by product), and only a newer one may
-- replace what is stored (events::on_stock_levels). Both are NULL for a kit replicated before
-- this column: its stock is unknown until product next announces it, and nothing is refused.
ALTER TABLE products ADD COLUMN stock INTEGER;
ALTER TABLE products ADD COLUMN stock_as_of TIMESTAMPTZ;
ALTER TABLE products ADD CONSTRAINT products_stock_has_its_time
    CHECK ((stock IS NULL) = (stock_as_of IS NULL));
