-- demo/data.sql -- deterministic demo rows, scaled by the psql variable DEMO_SCALE.
-- Scale 1: 40 venues, 100k customers, 2k events, 2M ticket sales, 1M merch orders; every
-- count is proportional with a floor, so scale 0.01 still gives a useful database. The same
-- seed and scale always give the same rows (setseed, one serial generate_series per table);
-- each table has its own seed, so its first rows are the same at every scale.

\if :{?DEMO_SCALE}
\else
\set DEMO_SCALE 1
\endif

SELECT greatest(1000, round(100000 * :DEMO_SCALE))::int  AS n_customers,
       greatest(50,   round(2000 * :DEMO_SCALE))::int    AS n_events,
       greatest(5000, round(2000000 * :DEMO_SCALE))::int AS n_sales,
       greatest(2500, round(1000000 * :DEMO_SCALE))::int AS n_orders
\gset

-- Venues: a fixed 40, a few per city.
INSERT INTO public.venues (venue_id, name, city, kind, seats, tags, facilities, curfew, opened_at, logo)
SELECT v,
       city || ' ' || (ARRAY['Arena', 'Stadium', 'Playhouse', 'Club', 'Grounds'])[k],
       city,
       (ARRAY['arena', 'stadium', 'theatre', 'club', 'open air'])[k]::public.venue_kind,
       (ARRAY[15000, 40000, 1200, 600, 25000])[k] + (v * 37) % 500,
       CASE k WHEN 5 THEN ARRAY['outdoor', 'accessible'] WHEN 4 THEN ARRAY['standing', 'late night']
              WHEN 2 THEN ARRAY['seated', 'accessible'] ELSE ARRAY['seated'] END,
       jsonb_build_object('parking_spaces', (v * 53) % 900, 'food_courts', 1 + v % 4,
                          'wheelchair_access', v % 3 <> 0),
       CASE WHEN k = 4 THEN TIME '02:00' ELSE TIME '23:00' END,
       TIMESTAMPTZ '1985-01-01 10:00:00+00' + (v * 271) * INTERVAL '1 day',
       CASE WHEN v % 4 = 0 THEN decode('89504e470d0a1a0a0000000d49484452', 'hex') END
  FROM generate_series(1, 40) AS v,
       LATERAL (SELECT (ARRAY['Mumbai', 'Bangalore', 'Delhi', 'Pune', 'London', 'Hyderabad',
                              'Chennai', 'Kolkata', 'New York', 'Singapore', 'Dubai',
                              'Berlin'])[1 + (v - 1) % 12] AS city,
                       1 + (v * 7) % 5 AS k) c;

-- Customers: home cities skewed towards the big Indian cities.
SELECT setseed(0.11) AS seeded \gset
INSERT INTO public.customers (customer_id, name, email, city, is_member, signup_date, loyalty_points)
SELECT g,
       f || ' ' || l,
       lower(f) || '.' || lower(l) || g || '@example.com',
       (ARRAY['Mumbai', 'Bangalore', 'Delhi', 'Pune', 'London', 'Hyderabad', 'Chennai',
              'Kolkata', 'New York', 'Singapore', 'Dubai', 'Berlin'])[1 + floor(12 * r_city ^ 1.6)::int],
       r_mem < 0.3,
       DATE '2018-01-01' + floor(r_date * 3100)::int,
       CASE WHEN r_mem < 0.3 THEN floor(r_pts * 5000)::int ELSE floor(r_pts * 200)::int END
  FROM (SELECT g,
               (ARRAY['Aarav', 'Priya', 'Rohan', 'Ananya', 'Vikram', 'Sneha', 'Arjun', 'Kavya',
                      'Oliver', 'Amelia', 'James', 'Sophia', 'Liam', 'Mia', 'Noah', 'Zara',
                      'Ravi', 'Meera', 'Omar', 'Lena'])[1 + floor(random() * 20)::int] AS f,
               (ARRAY['Sharma', 'Patel', 'Iyer', 'Reddy', 'Khan', 'Gupta', 'Singh', 'Das',
                      'Smith', 'Jones', 'Brown', 'Taylor', 'Müller', 'Tan', 'Lee', 'Fernandes'])[1 + floor(random() * 16)::int] AS l,
               random() AS r_city, random() AS r_mem, random() AS r_date, random() AS r_pts
          FROM generate_series(1, :n_customers) AS g) s;

-- Events: categories skewed towards concerts, dates 2023-01-01 .. 2026-12-31.
SELECT setseed(0.22) AS seeded \gset
INSERT INTO public.events (event_id, name, category, venue_id, event_date, doors_open, duration,
                           capacity, base_price, tags)
SELECT g,
       (ARRAY['Summer', 'Winter', 'Midnight', 'Grand', 'Electric', 'Golden', 'Neon', 'Royal'])[1 + floor(r_n1 * 8)::int]
           || ' ' || (ARRAY['Jam', 'Showdown', 'Gala', 'Live', 'Fest', 'Cup', 'Nights', 'Special'])[1 + floor(r_n2 * 8)::int]
           || ' ' || g,
       cat,
       1 + floor(r_venue * 40)::int,
       DATE '2023-01-01' + floor(r_date * 1461)::int,
       TIME '17:00' + floor(r_door * 7) * INTERVAL '30 minutes',
       CASE cat WHEN 'Festival' THEN INTERVAL '8 hours' WHEN 'Sports' THEN INTERVAL '2 hours 30 minutes'
                WHEN 'Conference' THEN INTERVAL '6 hours' ELSE INTERVAL '2 hours' END,
       200 + floor(r_cap * 20000)::int,
       round((CASE cat WHEN 'Concert' THEN 60 WHEN 'Sports' THEN 45 WHEN 'Comedy' THEN 25
                       WHEN 'Theatre' THEN 40 WHEN 'Festival' THEN 90 WHEN 'Conference' THEN 120
                       ELSE 15 END * (0.8 + r_price * 0.8))::numeric, 2),
       CASE cat WHEN 'Family' THEN ARRAY['family', 'daytime'] WHEN 'Festival' THEN ARRAY['outdoor', 'multi-day']
                WHEN 'Concert' THEN ARRAY['music'] ELSE ARRAY[]::text[] END
  FROM (SELECT g, random() AS r_n1, random() AS r_n2, random() AS r_venue, random() AS r_date,
               random() AS r_door, random() AS r_cap, random() AS r_price,
               CASE WHEN r < 0.35 THEN 'Concert' WHEN r < 0.55 THEN 'Sports' WHEN r < 0.70 THEN 'Comedy'
                    WHEN r < 0.82 THEN 'Theatre' WHEN r < 0.90 THEN 'Festival'
                    WHEN r < 0.96 THEN 'Conference' ELSE 'Family' END AS cat
          FROM (SELECT g, random() AS r FROM generate_series(1, :n_events) AS g) a) s;

-- Ticket sales: sold up to 120 days before the event (most close to it).
SELECT setseed(0.33) AS seeded \gset
INSERT INTO public.ticket_sales (sale_id, event_id, customer_id, sale_date, channel, status,
                                 payment_status, price, quantity)
SELECT s.g,
       s.eid,
       s.cid,
       greatest(DATE '2022-09-01', e.event_date - floor(s.r_days ^ 2 * 120)::int),
       CASE WHEN s.r_chan < 0.50 THEN 'online' WHEN s.r_chan < 0.75 THEN 'mobile app'
            WHEN s.r_chan < 0.93 THEN 'box office' ELSE 'partner' END,
       CASE WHEN s.r_stat < 0.82 THEN 'active' WHEN s.r_stat < 0.90 THEN 'refunded'
            WHEN s.r_stat < 0.95 THEN 'cancelled' ELSE 'transferred' END,
       CASE WHEN s.r_pay < 0.85 THEN 'paid' WHEN s.r_pay < 0.92 THEN 'pending'
            WHEN s.r_pay < 0.97 THEN 'failed' ELSE 'chargeback' END,
       round(e.base_price * (0.8 + s.r_price * 0.6)::numeric, 2),
       1 + floor(s.r_qty ^ 3 * 6)::int
  FROM (SELECT g,
               1 + floor(random() ^ 1.3 * :n_events)::int AS eid,
               1 + floor(random() * :n_customers)::int AS cid,
               random() AS r_days, random() AS r_chan, random() AS r_stat, random() AS r_pay,
               random() AS r_price, random() AS r_qty
          FROM generate_series(1, :n_sales) AS g) s
  JOIN public.events e ON e.event_id = s.eid;

-- Merchandise orders: 70% at an event (on its date), the rest online.
SELECT setseed(0.44) AS seeded \gset
INSERT INTO public.merch_orders (order_id, customer_id, event_id, order_date, product_category,
                                 quantity, revenue)
SELECT s.g,
       s.cid,
       e.event_id,
       coalesce(e.event_date, DATE '2023-01-01' + floor(s.r_date * 1430)::int),
       s.cat,
       s.qty,
       round(s.qty * CASE s.cat WHEN 'Apparel' THEN 35 WHEN 'Posters' THEN 12 WHEN 'Music' THEN 20
                                WHEN 'Accessories' THEN 18 WHEN 'Collectibles' THEN 55 ELSE 8 END
                   * (0.85 + s.r_price * 0.3)::numeric, 2)
  FROM (SELECT g,
               1 + floor(random() * :n_customers)::int AS cid,
               CASE WHEN random() < 0.7 THEN 1 + floor(random() * :n_events)::int END AS eid,
               random() AS r_date, random() AS r_price,
               1 + floor(random() ^ 2 * 5)::int AS qty,
               CASE WHEN r < 0.30 THEN 'Apparel' WHEN r < 0.50 THEN 'Food & Drink'
                    WHEN r < 0.65 THEN 'Posters' WHEN r < 0.78 THEN 'Music'
                    WHEN r < 0.92 THEN 'Accessories' ELSE 'Collectibles' END AS cat
          FROM (SELECT g, random() AS r FROM generate_series(1, :n_orders) AS g) a) s
  LEFT JOIN public.events e ON e.event_id = s.eid;
