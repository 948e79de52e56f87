#!/bin/sh
# Loads examples/films/schema.sql into a private PostgreSQL cluster and pins
# the data: counts, title order, the fulltext trigger, the year domain and the
# md5 of every film row (examples/films/checksum.expected).
# Exit: 0 pass, 1 fail, 77 skip (no PostgreSQL server binaries).
set -u
[ -r "${top_srcdir:-.}/tests/lib.sh" ] || { echo "FAIL: no tests/lib.sh in ${top_srcdir:-.} (set top_srcdir)" >&2; exit 1; }
# shellcheck source=tests/lib.sh
. "${top_srcdir:-.}/tests/lib.sh"
checksum_sql="$srcdir/examples/films/checksum.sql"
checksum_expected="$srcdir/examples/films/checksum.expected"

fc_need_files "$schema" "$checksum_sql" "$checksum_expected"
fc_need_pg

fc_setup films
fc_pg_start || exit $?
pgcluster_load "$pgdir" "$schema" || fc_fail "loading $schema"

# check NAME EXPECTED SQL
check() {
	got=$(fc_psql -c "$3" 2>&1)
	if [ "$got" = "$2" ]; then
		ok "$1"
	else
		notok "$1: expected '$2', got '$got'"
	fi
}

check "1000 films" 1000 "SELECT count(*) FROM film"
check "6 languages" 6 "SELECT count(*) FROM language"
check "languages in dvdrental order" "English,Italian,Japanese,Mandarin,French,German" \
	"SELECT string_agg(trim(name), ',' ORDER BY language_id) FROM language"
check "film ids are 1..1000" "1|1000" "SELECT min(film_id), max(film_id) FROM film"
check "titles unique" 1000 "SELECT count(DISTINCT title) FROM film"
check "title order equals id order" 0 \
	"SELECT count(*) FROM (SELECT film_id, row_number() OVER (ORDER BY title) AS pos FROM film) s WHERE film_id <> pos"
check "half the films newer than 2000" 500 "SELECT count(*) FROM film WHERE release_year > 2000"
check "film 995" "Barbarella Werewolf|2006" "SELECT title, release_year FROM film WHERE film_id = 995"
check "review table empty" 0 "SELECT count(*) FROM review"
check "fulltext trigger fills fulltext on INSERT" "t|t" \
	"BEGIN;
	 INSERT INTO film (title, description, language_id) VALUES ('Zebra Trigger Test', 'A Zesty Drama', 1);
	 SELECT fulltext @@ to_tsquery('english', 'zebra & zesty'), film_id = 1001 FROM film WHERE title = 'Zebra Trigger Test';
	 ROLLBACK;"
# expect_error NAME PATTERN SQL: SQL must fail with an error matching PATTERN.
expect_error() {
	got=$(fc_psql -c "$3" 2>&1)
	case $got in
	*$2*) ok "$1" ;;
	*) notok "$1: expected an error with '$2', got '$got'" ;;
	esac
}
expect_error "year domain rejects 1800 (UPDATE)" 'violates check constraint "year_check"' \
	"UPDATE film SET release_year = 1800 WHERE film_id = 1"
expect_error "year domain rejects 1800 (INSERT)" 'violates check constraint "year_check"' \
	"INSERT INTO film (title, language_id, release_year) VALUES ('Old Film', 1, 1800)"
expect_error "year domain rejects 1800 (cast)" 'violates check constraint "year_check"' \
	"SELECT 1800::year"
check "film 1 keeps its release_year" 1992 "SELECT release_year FROM film WHERE film_id = 1"

expected=$(cat "$checksum_expected")
check "checksum equals checksum.expected" "$expected" "$(cat "$checksum_sql")"

# Reloading resets the data to the same checksum.
fc_psql -c "INSERT INTO review VALUES (1, 5); DELETE FROM film WHERE film_id = 1000" >/dev/null 2>&1
if pgcluster_load "$pgdir" "$schema"; then
	check "reload resets the data" "$expected|0" \
		"SELECT ($(sed -e '/^--/d' -e 's/;[[:space:]]*$//' "$checksum_sql")), (SELECT count(*) FROM review)"
else
	notok "reloading $schema"
fi

fc_done
