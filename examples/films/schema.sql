-- examples/films/schema.sql - the films/reviews example's schema and data.
--
-- The film and language tables follow PostgreSQL's "dvdrental" sample
-- database (same columns, types, defaults, indexes and fulltext trigger);
-- review is the reference app's own table. The data is deterministic: every
-- column of the 1000 films is a pure function of film_id (no random(), no
-- now()), so examples/films/checksum.sql gives the same md5 on every load
-- (see checksum.expected).
--
-- Loading drops and recreates everything, so reloading resets the data:
--     tests/pgcluster.sh load DIR examples/films/schema.sql
--
-- Film data (id = film_id, 1..1000):
--   title            word1[(id-1)/40] || ' ' || word2[(id-1)%40], 25 x 40 words,
--                    both lists alphabetical and no word a prefix of another
--                    in its list, so titles are unique and ORDER BY title ==
--                    ORDER BY film_id (checked below). 1 "Academy Dinosaur",
--                    995 "Barbarella Werewolf", 1000 "Barbarella Zorro".
--   release_year     1991 + id % 20: 1991..2010, 50 films each; 500 films have
--                    release_year > 2000 (the app's default year.gt); film 995
--                    is 2006. Film 1 is 1992, film 1000 is 1991.
--   language_id      1 (English) for 900 films; films with id % 10 = 0 get
--                    2 + (id/10) % 5 (Italian..German, 20 films each).
--   rating           cycles G, PG, PG-13, R, NC-17 from film 1 (200 each).
--   rental_duration  3 + id % 5 (3..7); rental_rate 0.99/2.99/4.99 by id % 3;
--   length           46 + (id * 37) % 140 (46..185 minutes);
--   replacement_cost 9.99 + (id * 8) % 21 (9.99..29.99);
--   special_features the non-empty subsets of {Trailers, Commentaries,
--                    Deleted Scenes, Behind the Scenes}, subset number
--                    1 + (id-1) % 15 as a bit mask, in that order;
--   description      dvdrental-style sentence from fixed word lists;
--   last_update      '2013-05-26 14:50:58.951' (dvdrental's value);
--   fulltext         filled by film_fulltext_trigger from title + description.
--
-- review starts empty; it has an index on film_id (cheap, and the app looks
-- reviews up by film).

SET client_min_messages = warning;

BEGIN;

DROP TABLE IF EXISTS review CASCADE;
DROP TABLE IF EXISTS film CASCADE;
DROP TABLE IF EXISTS language CASCADE;
DROP DOMAIN IF EXISTS year CASCADE;
DROP TYPE IF EXISTS mpaa_rating CASCADE;

CREATE DOMAIN year AS integer
    CONSTRAINT year_check CHECK (VALUE >= 1901 AND VALUE <= 2155);

CREATE TYPE mpaa_rating AS ENUM ('G', 'PG', 'PG-13', 'R', 'NC-17');

CREATE TABLE language (
    language_id serial PRIMARY KEY,
    name character(20) NOT NULL,
    last_update timestamp without time zone NOT NULL DEFAULT now()
);

CREATE TABLE film (
    film_id serial PRIMARY KEY,
    title character varying(255) NOT NULL,
    description text,
    release_year year,
    language_id smallint NOT NULL
        REFERENCES language (language_id) ON UPDATE CASCADE ON DELETE RESTRICT,
    rental_duration smallint NOT NULL DEFAULT 3,
    rental_rate numeric(4,2) NOT NULL DEFAULT 4.99,
    length smallint,
    replacement_cost numeric(5,2) NOT NULL DEFAULT 19.99,
    rating mpaa_rating DEFAULT 'G'::mpaa_rating,
    last_update timestamp without time zone NOT NULL DEFAULT now(),
    special_features text[],
    fulltext tsvector NOT NULL
);

CREATE INDEX film_fulltext_idx ON film USING gist (fulltext);
CREATE INDEX idx_title ON film USING btree (title);
CREATE INDEX idx_fk_language_id ON film USING btree (language_id);

CREATE TRIGGER film_fulltext_trigger
    BEFORE INSERT OR UPDATE ON film
    FOR EACH ROW EXECUTE FUNCTION
    tsvector_update_trigger(fulltext, 'pg_catalog.english', title, description);

CREATE TABLE review (
    film_id INTEGER REFERENCES film(film_id),
    rating INTEGER
);

CREATE INDEX review_film_id_idx ON review (film_id);

INSERT INTO language (language_id, name, last_update) VALUES
    (1, 'English', '2006-02-15 10:02:19'),
    (2, 'Italian', '2006-02-15 10:02:19'),
    (3, 'Japanese', '2006-02-15 10:02:19'),
    (4, 'Mandarin', '2006-02-15 10:02:19'),
    (5, 'French', '2006-02-15 10:02:19'),
    (6, 'German', '2006-02-15 10:02:19');

-- fulltext is left out: film_fulltext_trigger fills it (BEFORE triggers run
-- before the NOT NULL check).
INSERT INTO film (film_id, title, description, release_year, language_id,
                  rental_duration, rental_rate, length, replacement_cost,
                  rating, last_update, special_features)
SELECT
    id,
    (ARRAY['Academy', 'Adaptation', 'Affair', 'African', 'Agent',
           'Airplane', 'Alabama', 'Aladdin', 'Alaska', 'Alien',
           'Amadeus', 'Anaconda', 'Angels', 'Apache', 'Apollo',
           'Arabia', 'Arizona', 'Armageddon', 'Attraction', 'Autumn',
           'Backlash', 'Badman', 'Ballroom', 'Bang', 'Barbarella'])[1 + (id - 1) / 40]
    || ' ' ||
    (ARRAY['Dinosaur', 'Divide', 'Dragon', 'Egg', 'Express',
           'Fiction', 'Frontier', 'Gladiator', 'Goldfinger', 'Graffiti',
           'Harbor', 'Hunter', 'Intentions', 'Jungle', 'Kiss',
           'Lion', 'Madness', 'Mine', 'Monster', 'Newton',
           'Oklahoma', 'Panic', 'Princess', 'Quest', 'Rider',
           'Rocky', 'Secrets', 'Shawshank', 'Sunrise', 'Tank',
           'Trip', 'Uptown', 'Vanilla', 'Voyage', 'Werewolf',
           'Wonderland', 'Wrath', 'Xanadu', 'Youth', 'Zorro'])[1 + (id - 1) % 40],
    'A ' ||
    (ARRAY['Epic', 'Astounding', 'Touching', 'Thrilling', 'Fanciful',
           'Beautiful', 'Boring', 'Lacklusture', 'Action-Packed', 'Amazing',
           'Awe-Inspiring', 'Brilliant', 'Emotional', 'Fast-Paced', 'Insightful',
           'Intrepid', 'Stunning', 'Taut', 'Unbelieveable'])[1 + id % 19]
    || ' ' ||
    (ARRAY['Drama', 'Documentary', 'Story', 'Reflection', 'Panorama',
           'Saga', 'Tale', 'Character Study', 'Yarn', 'Display',
           'Epistle', 'Mystery', 'Fable'])[1 + (id * 3) % 13]
    || ' of a ' ||
    (ARRAY['Feminist', 'Mad Scientist', 'Teacher', 'Dentist', 'Robot',
           'Astronaut', 'Cat', 'Dog', 'Moose', 'Crocodile',
           'Student', 'Pioneer', 'Sumo Wrestler', 'Hunter', 'Lumberjack',
           'Frisbee', 'Husband', 'Girl', 'Boy', 'Woman',
           'Man', 'Technical Writer', 'Composer', 'Squirrel'])[1 + (id * 5) % 24]
    || ' And a ' ||
    (ARRAY['Car', 'Butler', 'Monkey', 'Shark', 'Waitress',
           'Explorer', 'Secret Agent', 'Database Administrator', 'Pastry Chef', 'Mad Cow',
           'Forensic Psychologist', 'Monastery Monk', 'Cowboy', 'Hippo', 'Sailor',
           'Crane', 'Pilot'])[1 + (id * 7) % 17]
    || ' who must ' ||
    (ARRAY['Battle', 'Chase', 'Confront', 'Defeat', 'Discover',
           'Fight', 'Find', 'Kill', 'Meet', 'Outgun',
           'Outrace', 'Overcome', 'Pursue', 'Reach', 'Redeem',
           'Sink', 'Succumb', 'Vanquish', 'Build', 'Escape',
           'Conquer'])[1 + (id * 11) % 21]
    || ' a ' ||
    (ARRAY['Teacher', 'Dentist', 'Robot', 'Astronaut', 'Cat',
           'Dog', 'Moose', 'Crocodile', 'Student', 'Pioneer',
           'Hunter', 'Lumberjack', 'Husband', 'Girl', 'Boy',
           'Woman', 'Man', 'Composer', 'Squirrel', 'Butler',
           'Monkey', 'Shark', 'Waitress', 'Explorer', 'Secret Agent',
           'Pastry Chef', 'Feminist'])[1 + (id * 13) % 27]
    || ' ' ||
    (ARRAY['in The Canadian Rockies', 'in A Baloon', 'in The Gulf of Mexico',
           'in Ancient China', 'in Soviet Georgia', 'in A Manhattan Penthouse',
           'in A Shark Tank', 'in An Abandoned Fun House', 'in Nigeria',
           'in A U-Boat', 'in A Jet Boat', 'in Ancient India', 'in The Outback',
           'in A MySQL Convention', 'in Berlin', 'in A Monastery',
           'in The First Manned Space Station', 'in A Baloon Factory',
           'in An Abandoned Mine Shaft', 'in The Sahara Desert',
           'in A Car Factory', 'in Australia', 'in A Shark Tank'])[1 + (id * 17) % 23],
    1991 + id % 20,
    CASE WHEN id % 10 = 0 THEN 2 + (id / 10) % 5 ELSE 1 END,
    3 + id % 5,
    (ARRAY[0.99, 2.99, 4.99])[1 + id % 3],
    46 + (id * 37) % 140,
    9.99 + (id * 8) % 21,
    (enum_range(NULL::mpaa_rating))[1 + (id - 1) % 5],
    '2013-05-26 14:50:58.951',
    ARRAY(SELECT f.name
          FROM unnest(ARRAY['Trailers', 'Commentaries', 'Deleted Scenes',
                            'Behind the Scenes']) WITH ORDINALITY AS f(name, bit)
          WHERE (1 + (id - 1) % 15) & (1 << (f.bit::int - 1)) <> 0
          ORDER BY f.bit)
FROM generate_series(1, 1000) AS id;

-- The rows above were inserted with explicit ids: move the sequences past them.
DO $$
BEGIN
    PERFORM setval(pg_get_serial_sequence('language', 'language_id'), (SELECT max(language_id) FROM language));
    PERFORM setval(pg_get_serial_sequence('film', 'film_id'), (SELECT max(film_id) FROM film));
END
$$;

-- Titles must be unique and sort in film_id order (the word lists above are
-- alphabetical; this guards an edit that breaks that).
DO $$
DECLARE
    bad integer;
BEGIN
    SELECT count(*) INTO bad FROM (
        SELECT film_id, row_number() OVER (ORDER BY title, film_id) AS pos
        FROM film) s
    WHERE s.film_id <> s.pos;
    IF bad <> 0 OR (SELECT count(DISTINCT title) FROM film) <> 1000 THEN
        RAISE EXCEPTION 'film titles are not unique or not in film_id order (% misplaced)', bad;
    END IF;
END
$$;

COMMIT;

ANALYZE language;
ANALYZE film;
ANALYZE review;
