-- One md5 over every film row (ordered by film_id, all 13 columns as text,
-- NULL as \N, fields joined by '|', rows by newlines). The timestamp is
-- formatted explicitly so DateStyle does not matter. Run with psql -tA;
-- examples/films/checksum.expected holds the value for schema.sql's data.
SELECT md5(string_agg(concat_ws('|',
           film_id::text,
           coalesce(title::text, '\N'),
           coalesce(description, '\N'),
           coalesce(release_year::text, '\N'),
           language_id::text,
           rental_duration::text,
           rental_rate::text,
           coalesce(length::text, '\N'),
           replacement_cost::text,
           coalesce(rating::text, '\N'),
           to_char(last_update, 'YYYY-MM-DD HH24:MI:SS.US'),
           coalesce(special_features::text, '\N'),
           fulltext::text),
       E'\n' ORDER BY film_id)) AS films_md5
FROM film;
