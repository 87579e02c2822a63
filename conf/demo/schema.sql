-- demo/schema.sql -- the demo venue business: tables, types and comments (no data, no keys
-- between tables yet; data.sql fills them and keys.sql adds foreign keys and indexes, and the
-- primary keys of the two big tables, which build faster once the rows are in).
-- Drops and recreates everything it owns, so loading twice gives the same database.

DROP TABLE IF EXISTS public.merch_orders, public.ticket_sales, public.events,
    public.customers, public.venues CASCADE;
DROP TYPE IF EXISTS public.venue_kind CASCADE;

CREATE TYPE public.venue_kind AS ENUM ('arena', 'stadium', 'theatre', 'club', 'open air');
COMMENT ON TYPE public.venue_kind IS 'Kind of venue';

CREATE TABLE public.venues (
    venue_id      integer PRIMARY KEY,
    name          text NOT NULL,
    city          text NOT NULL,
    kind          public.venue_kind NOT NULL,
    seats         integer NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}',
    facilities    jsonb,
    curfew        time without time zone,
    opened_at     timestamp with time zone NOT NULL,
    logo          bytea
);
COMMENT ON TABLE public.venues IS 'Venues (halls, stadiums, clubs) where events take place';
COMMENT ON COLUMN public.venues.venue_id IS 'Venue identifier';
COMMENT ON COLUMN public.venues.name IS 'Venue name';
COMMENT ON COLUMN public.venues.city IS 'City the venue is in';
COMMENT ON COLUMN public.venues.kind IS 'Kind of venue: arena, stadium, theatre, club or open air';
COMMENT ON COLUMN public.venues.seats IS 'Seating capacity of the venue';
COMMENT ON COLUMN public.venues.tags IS 'Free-form tags, e.g. {outdoor,accessible}';
COMMENT ON COLUMN public.venues.facilities IS 'Facilities as JSON: parking spaces, food courts, wheelchair access';
COMMENT ON COLUMN public.venues.curfew IS 'Local time by which events must end';
COMMENT ON COLUMN public.venues.opened_at IS 'When the venue opened';
COMMENT ON COLUMN public.venues.logo IS 'Small logo image (PNG bytes), may be null';

CREATE TABLE public.customers (
    customer_id   integer PRIMARY KEY,
    name          text NOT NULL,
    email         text NOT NULL,
    city          text NOT NULL,
    is_member     boolean NOT NULL,
    signup_date   date NOT NULL,
    loyalty_points integer NOT NULL DEFAULT 0
);
COMMENT ON TABLE public.customers IS 'Customers who buy tickets and merchandise';
COMMENT ON COLUMN public.customers.customer_id IS 'Customer identifier';
COMMENT ON COLUMN public.customers.name IS 'Full name of the customer';
COMMENT ON COLUMN public.customers.email IS 'Email address';
COMMENT ON COLUMN public.customers.city IS 'Home city of the customer';
COMMENT ON COLUMN public.customers.is_member IS 'True for membership holders (loyalty programme members)';
COMMENT ON COLUMN public.customers.signup_date IS 'Date the customer signed up';
COMMENT ON COLUMN public.customers.loyalty_points IS 'Loyalty points balance';

CREATE TABLE public.events (
    event_id      integer PRIMARY KEY,
    name          text NOT NULL,
    category      text NOT NULL,
    venue_id      integer NOT NULL,
    event_date    date NOT NULL,
    doors_open    time without time zone NOT NULL,
    duration      interval NOT NULL,
    capacity      integer NOT NULL,
    base_price    numeric(10,2) NOT NULL,
    tags          text[] NOT NULL DEFAULT '{}'
);
COMMENT ON TABLE public.events IS 'Events (concerts, matches, shows) held at venues';
COMMENT ON COLUMN public.events.event_id IS 'Event identifier';
COMMENT ON COLUMN public.events.name IS 'Event name';
COMMENT ON COLUMN public.events.category IS 'Event category, e.g. Concert, Comedy, Sports';
COMMENT ON COLUMN public.events.venue_id IS 'Venue the event is held at';
COMMENT ON COLUMN public.events.event_date IS 'Date of the event';
COMMENT ON COLUMN public.events.doors_open IS 'Local time the doors open';
COMMENT ON COLUMN public.events.duration IS 'Planned length of the event';
COMMENT ON COLUMN public.events.capacity IS 'Tickets available for the event';
COMMENT ON COLUMN public.events.base_price IS 'Base ticket price before discounts';
COMMENT ON COLUMN public.events.tags IS 'Free-form tags, e.g. {family,outdoor}';

CREATE TABLE public.ticket_sales (
    sale_id        bigint NOT NULL,
    event_id       integer NOT NULL,
    customer_id    integer NOT NULL,
    sale_date      date NOT NULL,
    channel        text NOT NULL,
    status         text NOT NULL,
    payment_status text NOT NULL,
    price          numeric(10,2) NOT NULL,
    quantity       integer NOT NULL
);
COMMENT ON TABLE public.ticket_sales IS 'Ticket sales: one row per purchase of tickets for an event; revenue is price * quantity';
COMMENT ON COLUMN public.ticket_sales.sale_id IS 'Sale identifier';
COMMENT ON COLUMN public.ticket_sales.event_id IS 'Event the tickets are for';
COMMENT ON COLUMN public.ticket_sales.customer_id IS 'Customer who bought the tickets';
COMMENT ON COLUMN public.ticket_sales.sale_date IS 'Date of the sale';
COMMENT ON COLUMN public.ticket_sales.channel IS 'Sales channel: online, box office, mobile app, partner';
COMMENT ON COLUMN public.ticket_sales.status IS 'Ticket status: active, refunded, cancelled, transferred';
COMMENT ON COLUMN public.ticket_sales.payment_status IS 'Payment status: paid, pending, failed, chargeback';
COMMENT ON COLUMN public.ticket_sales.price IS 'Price per ticket';
COMMENT ON COLUMN public.ticket_sales.quantity IS 'Number of tickets in the sale';

CREATE TABLE public.merch_orders (
    order_id         bigint NOT NULL,
    customer_id      integer NOT NULL,
    event_id         integer,
    order_date       date NOT NULL,
    product_category text NOT NULL,
    quantity         integer NOT NULL,
    revenue          numeric(10,2) NOT NULL
);
COMMENT ON TABLE public.merch_orders IS 'Merchandise orders, at events or online';
COMMENT ON COLUMN public.merch_orders.order_id IS 'Order identifier';
COMMENT ON COLUMN public.merch_orders.customer_id IS 'Customer who placed the order';
COMMENT ON COLUMN public.merch_orders.event_id IS 'Event the order was placed at; null for online orders';
COMMENT ON COLUMN public.merch_orders.order_date IS 'Date of the order';
COMMENT ON COLUMN public.merch_orders.product_category IS 'Product category: apparel, posters, music, accessories, collectibles, food';
COMMENT ON COLUMN public.merch_orders.quantity IS 'Number of items ordered';
COMMENT ON COLUMN public.merch_orders.revenue IS 'Order revenue (total amount paid)';
