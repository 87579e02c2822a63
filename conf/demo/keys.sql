-- demo/keys.sql -- foreign keys and indexes of the demo tables, added after the bulk load
-- (faster than checking each row as it arrives), then fresh statistics so that pg_stats holds
-- the common values of the low-cardinality columns the planner and retrieval rely on.

SET maintenance_work_mem = '256MB';

ALTER TABLE public.ticket_sales ADD CONSTRAINT ticket_sales_pkey PRIMARY KEY (sale_id);
ALTER TABLE public.merch_orders ADD CONSTRAINT merch_orders_pkey PRIMARY KEY (order_id);

ALTER TABLE public.events
    ADD CONSTRAINT events_venue_id_fkey FOREIGN KEY (venue_id) REFERENCES public.venues (venue_id);
ALTER TABLE public.ticket_sales
    ADD CONSTRAINT ticket_sales_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events (event_id),
    ADD CONSTRAINT ticket_sales_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers (customer_id),
    ADD CONSTRAINT ticket_sales_quantity_check CHECK (quantity > 0);
ALTER TABLE public.merch_orders
    ADD CONSTRAINT merch_orders_customer_id_fkey FOREIGN KEY (customer_id) REFERENCES public.customers (customer_id),
    ADD CONSTRAINT merch_orders_event_id_fkey FOREIGN KEY (event_id) REFERENCES public.events (event_id);

CREATE UNIQUE INDEX customers_email_key ON public.customers (email);
CREATE INDEX customers_city_idx ON public.customers (city);
CREATE INDEX events_event_date_idx ON public.events (event_date);
CREATE INDEX events_venue_id_idx ON public.events (venue_id);
CREATE INDEX ticket_sales_event_id_idx ON public.ticket_sales (event_id);
CREATE INDEX ticket_sales_customer_id_idx ON public.ticket_sales (customer_id);
CREATE INDEX ticket_sales_sale_date_idx ON public.ticket_sales (sale_date);
CREATE INDEX merch_orders_customer_id_idx ON public.merch_orders (customer_id);
CREATE INDEX merch_orders_event_id_idx ON public.merch_orders (event_id);
CREATE INDEX merch_orders_order_date_idx ON public.merch_orders (order_date);

ANALYZE public.venues, public.customers, public.events, public.ticket_sales, public.merch_orders;
