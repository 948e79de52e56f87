#!/bin/sh
# Loads examples/films/schema.sql into a private PostgreSQL cluster and pins
# the data: counts, title order, the fulltext trigger, the year domain and the
# md5 of every film row (examples/films/checksum.expected).
# Exit: 0 pass, 1 fail, 77 skip (no PostgreSQL server binaries).
set -u

srcdir=${top_srcdir:-.}
pgcluster="$srcdir/tests/pgcluster.sh"
schema="$srcdir/examples/films/schema.sql"
checksum_sql="$srcdir/examples/films/checksum.sql"
checksum_expected="$srcdir/examples/films/checksum.expected"
pgbin=${PGBIN:-/usr/lib/postgresql/15/bin}

for f in "$pgcluster" "$schema" "$checksum_sql" "$checksum_expected"; do
	if [ ! -r "$f" ]; then
		echo "FAIL: missing $f (set top_srcdir)" >&2
		exit 1
	fi
done
if [ ! -x "$pgbin/initdb" ]; then
	echo "SKIP: no PostgreSQL server binaries in $pgbin" >&2
	exit 77
fi

dir=$(mktemp -d "${TMPDIR:-/tmp}/flaskc-films.XXXXXX") || exit 1
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	sh "$pgcluster" stop "$dir" >/dev/null 2>&1 || sh "$pgcluster" kill "$dir" >/dev/null 2>&1
	rm -rf -- "$dir"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

sh "$pgcluster" start "$dir" >/dev/null
rc=$?
if [ $rc -eq 77 ]; then
	exit 77
elif [ $rc -ne 0 ]; then
	echo "FAIL: could not start a PostgreSQL cluster in $dir" >&2
	cat "$dir/postgres.log" >&2 2>/dev/null
	exit 1
fi
# shellcheck source=/dev/null
. "$dir/env"

if ! sh "$pgcluster" load "$dir" "$schema"; then
	echo "FAIL: loading $schema" >&2
	exit 1
fi

failed=0
passed=0
q() {
	"$pgbin/psql" -X -q -tA -v ON_ERROR_STOP=1 -h "$PGHOST" -p "$PGPORT" -U postgres -d films "$@"
}
# check NAME EXPECTED SQL
check() {
	got=$(q -c "$3" 2>&1)
	if [ "$got" = "$2" ]; then
		echo "ok - $1"
		passed=$((passed + 1))
	else
		echo "not ok - $1: expected '$2', got '$got'"
		failed=$((failed + 1))
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
	got=$(q -c "$3" 2>&1)
	case $got in
	*$2*) echo "ok - $1"; passed=$((passed + 1)) ;;
	*) echo "not ok - $1: expected an error with '$2', got '$got'"; failed=$((failed + 1)) ;;
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
q -c "INSERT INTO review VALUES (1, 5); DELETE FROM film WHERE film_id = 1000" >/dev/null 2>&1
if sh "$pgcluster" load "$dir" "$schema"; then
	check "reload resets the data" "$expected|0" \
		"SELECT ($(sed -e '/^--/d' -e 's/;[[:space:]]*$//' "$checksum_sql")), (SELECT count(*) FROM review)"
else
	echo "not ok - reloading $schema"
	failed=$((failed + 1))
fi

echo "$passed passed, $failed failed"
[ $failed -eq 0 ] || exit 1
exit 0
