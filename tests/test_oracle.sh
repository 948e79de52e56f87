#!/bin/sh
# Differential test against Flask: the same small app written with Flask
# (tests/oracle/oracle_app.py, the oracle) and with libflaskc
# (tests/oracle/oracle_app.c) runs side by side on loopback; every request of
# the list below goes to both with curl and the answers are compared: status
# code, Location (host:port normalised), Allow (as a set), Content-Type,
# Content-Length, Transfer-Encoding, Set-Cookie (Expires date masked),
# X-Custom, WWW-Authenticate, and the body byte for byte (host:port
# normalised). Labels refer to the W01-W49 rows of the Flask behaviour notes
# (flask-behaviour.md, section 4).
# Exit: 0 pass, 1 fail, 77 skip (no curl, or no Flask 3 for python3).
set -u
[ -r "${top_srcdir:-.}/tests/lib.sh" ] || { echo "FAIL: no tests/lib.sh in ${top_srcdir:-.} (set top_srcdir)" >&2; exit 1; }
# shellcheck source=tests/lib.sh
. "${top_srcdir:-.}/tests/lib.sh"
oracle_py="$srcdir/tests/oracle/oracle_app.py"
oracle_c=${ORACLE_APP:-$builddir/tests/oracle/oracle_app}
PYTHON=${PYTHON:-python3}

fc_need_cmds curl
if ! "$PYTHON" -W ignore -c "import flask; assert flask.__version__.startswith('3')" >/dev/null 2>&1; then
	fc_skip "$PYTHON has no Flask 3.x (the oracle)"
fi
fc_need_files "$oracle_py"
fc_need_built "$oracle_c"
fc_python "$PYTHON"

fc_setup oracle

# Two free ports with the same number of digits, so that an absolute URL
# naming one server is as long as the one naming the other (Content-Length
# of the redirect pages).
ports=$("$PYTHON" -c '
import socket
while True:
    s1, s2 = socket.socket(), socket.socket()
    s1.bind(("127.0.0.1", 0)); s2.bind(("127.0.0.1", 0))
    p1, p2 = s1.getsockname()[1], s2.getsockname()[1]
    s1.close(); s2.close()
    if len(str(p1)) == len(str(p2)):
        print(p1, p2)
        break
') || exit 1
flask_port=${ports% *}
c_port=${ports#* }

fc_spawn "$dir/flask.log" "$PYTHON" "$oracle_py" "$flask_port"
flask_pid=$fc_pid
fc_spawn "$dir/c.log" env FLASKC_HOST=127.0.0.1 FLASKC_PORT="$c_port" FLASKC_ACCESS_LOG=0 "$oracle_c"
c_pid=$fc_pid

# wait until both answer
if ! fc_wait_up "$flask_pid" "$flask_port" /about 200 || ! fc_wait_up "$c_pid" "$c_port" /about 200; then
	echo "FAIL: the servers did not start" >&2
	echo "--- flask:" >&2
	cat "$dir/flask.log" >&2
	echo "--- libflaskc:" >&2
	cat "$dir/c.log" >&2
	exit 1
fi

printf 'abcdefghijklmnopqrstuvwxyz' >"$dir/alpha.txt" # 26 bytes

# ---- helpers ----

# fetch SIDE PORT PATH [curl args...]: headers of the final response to
# $dir/SIDE.h (CR removed), body to $dir/SIDE.b, normalised body to SIDE.nb
fetch() {
	side=$1 port=$2 path=$3
	shift 3
	rm -f "$dir/$side.raw" "$dir/$side.b"
	if ! curl -s -S --path-as-is -H 'Expect:' --max-time 10 -D "$dir/$side.raw" -o "$dir/$side.b" \
		"$@" "http://127.0.0.1:$port$path" 2>"$dir/$side.err"; then
		echo "(curl failed: $(cat "$dir/$side.err"))" >"$dir/$side.raw"
	fi
	[ -f "$dir/$side.b" ] || : >"$dir/$side.b"
	# curl -I writes the headers as its output and reads no body
	for a in "$@"; do
		[ "$a" = -I ] && : >"$dir/$side.b"
	done
	# the last response of the dump (after any 1xx), without CRs
	tr -d '\r' <"$dir/$side.raw" | awk '/^HTTP\//{n=0; delete h} {h[n++]=$0} END{for(i=0;i<n;i++) print h[i]}' >"$dir/$side.h"
	sed "s/127\.0\.0\.1:$port/HOST/g" "$dir/$side.b" >"$dir/$side.nb"
}

status_of() {
	awk 'NR==1{print $2}' "$dir/$1.h"
}

# header SIDE NAME: all values of NAME (case-insensitive), joined by " | "
header_of() {
	awk -v want="$2" 'BEGIN{want=tolower(want)}
		NR>1 { i=index($0, ":"); if (i && tolower(substr($0,1,i-1))==want) {
			v=substr($0,i+1); sub(/^[ \t]+/, "", v); sub(/[ \t]+$/, "", v);
			out = (out=="" ? v : out " | " v) } }
		END{print out}' "$dir/$1.h"
}

# a header normalised for comparison
norm_header() {
	side=$1 name=$2 port=$3
	v=$(header_of "$side" "$name")
	case $(echo "$name" | tr '[:upper:]' '[:lower:]') in
	location) echo "$v" | sed "s|//127\.0\.0\.1:$port|//HOST|" ;;
	allow) echo "$v" | tr ',' '\n' | sed 's/^ *//; s/ *$//' | sort | tr '\n' ',' ;;
	set-cookie) echo "$v" | sed 's/Expires=[^;]*;/Expires=DATE;/g' ;;
	*) echo "$v" ;;
	esac
}

show_body() {
	"$PYTHON" -c 'import sys; d=open(sys.argv[1],"rb").read(); print(repr(d[:400]) + ("..." if len(d) > 400 else ""))' "$1"
}

HEADERS="Location Allow Content-Type Content-Length Transfer-Encoding Set-Cookie X-Custom WWW-Authenticate"

# check LABEL PATH [curl args...]: send to both, compare. $ignore (reset
# after each check) lists fields not compared for a documented deviation:
# any of status, body and the header names above; $why says why.
ignore=
why=
check() {
	label=$1 path=$2
	shift 2
	fetch flask "$flask_port" "$path" "$@"
	fetch c "$c_port" "$path" "$@"
	desc="$label $path"
	[ $# -gt 0 ] && desc="$desc ($*)"
	diffs=
	ignored=
	fs=$(status_of flask)
	cs=$(status_of c)
	if [ "$fs" != "$cs" ]; then
		case " $ignore " in
		*" status "*) ignored="$ignored status" ;;
		*) diffs="${diffs}
    status: flask=$fs ours=$cs" ;;
		esac
	fi
	for h in $HEADERS; do
		fv=$(norm_header flask "$h" "$flask_port")
		cv=$(norm_header c "$h" "$c_port")
		[ "$fv" = "$cv" ] && continue
		case " $ignore " in
		*" $h "*) ignored="$ignored $h"; continue ;;
		esac
		diffs="${diffs}
    $h: flask=[$fv] ours=[$cv]"
	done
	if ! cmp -s "$dir/flask.nb" "$dir/c.nb"; then
		case " $ignore " in
		*" body "*) ignored="$ignored body" ;;
		*) diffs="${diffs}
    body: flask=$(show_body "$dir/flask.nb")
          ours =$(show_body "$dir/c.nb")" ;;
		esac
	fi
	if [ -z "$diffs" ]; then
		passed=$((passed + 1))
		if [ -n "$ignored" ]; then
			echo "ok - $desc # deviation ($why): differs in$ignored"
		else
			echo "ok - $desc"
		fi
	else
		failed=$((failed + 1))
		echo "not ok - $desc$diffs"
	fi
	ignore=
	why=
}

JSON='Content-Type: application/json'

# ---- routing: trailing slashes, converters, 404 ----
check W01 /films/5
check W02 '/films/5?x=1&y=2'
check W03 /films/5/
check W04 /films/abc/
check W04 /films/abc
check W04 /films/-1/
check W05 /films/05/
check W05 /films/%35/
check W06 /films/5/ -X POST
check W07 /films/5 -X POST
check W08 /coll -X POST
check W08 /coll
check W08 /coll/ -X POST
check W09 /about/
check W10 /nope
ignore="Content-Type Content-Length body" why="JSON error body when the client accepts JSON (flaskc.h)"
check W10 /nope -H 'Accept: application/json'
# ---- methods: 405, OPTIONS, HEAD ----
check W11 /items -X DELETE
check W11 /about -X POST
check W12 /onlypost
check W13 /items -X FOO
check W13 /about -X TRACE
check W14 /items -X OPTIONS
check W14 /onlypost -X OPTIONS
check W14 /films/5/ -X OPTIONS
check W15 /nope -X OPTIONS
check W16 /items -I
check W16 /about -I
check W16 /films/5 -I
check W17 /nope -I
check W17 /onlypost -I
ignore="Transfer-Encoding" why="libmicrohttpd 0.9.75 announces chunking on HEAD of a stream (README)"
check W18 /stream -I
check W19 /stream
# ---- query args ----
check W20 '/args?a=1&a=2&b=3'
check W20 /args
check W21 '/args?a=&b'
check W22 '/args?a=x+y%20z%26'
check W23 '/args?a=1;b=2'
# ---- path decoding and converters ----
check W24 /str/hello%20world
check W25 /str/caf%C3%A9
check W26 /str/a+b
check W27 /str/a%2Fb
check W28 /path/a%2Fb/c
check W28 /path/a//b
check W29 /bp//x
check W29 /bp/x
check W30 /str/../about
check W31 /f/1
check W31 /f/1.5
check W31 /f/0.10
check W32 /u/12345678-1234-1234-1234-123456789ABC
check W32 /u/not-a-uuid
check W33 /any/a
check W33 /any/b
check W33 /any/c
# ---- JSON bodies ----
check W35 /json -H "$JSON" --data-binary '{"a":1}'
check W35 /json -H "$JSON" --data-binary '{"b":[1,{"z":null,"y":true}],"a":"x/y"}'
check W35 /json -H "$JSON" --data-binary 'null'
check W35 /json -H "$JSON" --data-binary '1'
check W35 /json -H "$JSON" --data-binary 'true'
check W35 /json -H "$JSON" --data-binary ' [] '
ignore="body Content-Length" why="JSON bodies keep non-ASCII unescaped (README)"
check W35 /json -H "$JSON" --data-binary '{"k":"caf\u00e9"}'
# fc_request_json answers its 400/415 with a JSON error body (flaskc.h);
# Flask sends its HTML page: compare the status only.
jsonerr="Content-Type Content-Length body"
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W36 /json -H "$JSON" --data-binary '{bad'
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W36 /json -H "$JSON" --data-binary '[1,2'
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W36 /json -H "$JSON" --data-binary ''
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W36 /json -H "$JSON" --data-binary '1 2'
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W37 /json -H 'Content-Type: text/plain' --data-binary '{"a":1}'
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W37 /json --data-binary '{"a":1}'
check W38 /json -H 'Content-Type: application/vnd.api+json' --data-binary '{"a":1}'
check W39 /jsonsilent -H "$JSON" --data-binary '{bad'
check W39 /jsonsilent -H 'Content-Type: text/plain' --data-binary '{"a":1}'
# issue 19: what json-c took and Flask answers 400 to
for body in '1.' '00' '-01' '1.e5' "{'a':1}" '[1,]' "$(printf '"a\tb"')" "$(printf '"a\001b"')"; do
	ignore=$jsonerr why="fc_request_json answers with a JSON error body"
	check W36 /json -H "$JSON" --data-binary "$body"
done
printf '"\377"' >"$dir/j-utf8"
ignore=$jsonerr why="fc_request_json answers with a JSON error body"
check W36 /json -H "$JSON" --data-binary "@$dir/j-utf8"
printf '\357\273\277{"a":[1.5,-0,"x\\n"]}' >"$dir/j-bom"
check W35 /json -H "$JSON" --data-binary "@$dir/j-bom"
check W35 /json -H "$JSON" --data-binary '[18446744073709551615,-9223372036854775808,"\u0000x"]'
for body in '18446744073709551616' 'NaN' '"\ud800"' '{"a\u0000":1,"a":2}'; do
	ignore="status $jsonerr" why="refused on purpose (README, Request bodies)"
	check W36 /json -H "$JSON" --data-binary "$body"
done
# ---- forms ----
check W40 /form -d 'a=1&a=2&b=x+y'
check W41 /form -F a=1 -F "f=@$dir/alpha.txt"
# issue 19: multipart as Werkzeug reads it: empty part bodies, padding after a
# boundary (VT, FF), filename*= (alone, and after filename=)
MP='Content-Type: multipart/form-data; boundary=XyZ'
CD='Content-Disposition: form-data; name='
printf -- '--XyZ\r\n%s"a"\r\n\r\n--XyZ\r\n%s"b"\r\n\r\nv\r\n--XyZ\r\n%s"f"; filename="e.txt"\r\n\r\n--XyZ--\r\n' \
	"$CD" "$CD" "$CD" >"$dir/mp-empty"
check W41 /form -H "$MP" --data-binary "@$dir/mp-empty"
printf -- '--XyZ\v\r\n%s"a"\r\n\r\n1\r\n--XyZ \f\r\n%s"b"\r\n\r\n2\r\n--XyZ--\v\r\n' "$CD" "$CD" >"$dir/mp-pad"
check W41 /form -H "$MP" --data-binary "@$dir/mp-pad"
printf -- "--XyZ\r\n%s\"f\"; filename*=UTF-8''na%%20ve.txt\r\n\r\nabc\r\n--XyZ\r\n%s\"g\"; filename=\"a.txt\"; filename*=utf-8'en'b%%2Bc.txt\r\n\r\nxy\r\n--XyZ--\r\n" \
	"$CD" "$CD" >"$dir/mp-ext"
check W41 /form -H "$MP" --data-binary "@$dir/mp-ext"
printf -- '--XyZ\r\n%s"a"\r\n\r\na\000b\377\r\n--XyZ--\r\n' "$CD" >"$dir/mp-bytes"
ignore="body Content-Length" why="form text: a NUL and bytes that are not UTF-8 read %XX (README, Request bodies)"
check W41 /form -H "$MP" --data-binary "@$dir/mp-bytes"
printf -- '--XyZ\001\r\n%s"a"\r\n\r\n1\r\n--XyZ--\r\n' "$CD" >"$dir/mp-junk"
check W41 /form -H "$MP" --data-binary "@$dir/mp-junk"
# ---- responses ----
check W43 /about
check W43 /bp/x
check W44 /dict
check W44 /list
check W45 /tuple
check W46 /abort
check W46 /abort -H "$JSON"
check W47 /abort401
check W48 /redir
check W49 /cookie
# ---- more probes around the same rows ----
check W02 '/coll?x=1' -X POST
check W02 '/films/5?x=a%20b&y=%26'
check W03 '/films/5/?x=1'
check W04 /films/5.0/
check W04 /films/5x/
check W04 /films//5/
check W09 /any/a/
check W16 /abort -I
check W16 '/films/5?x=1' -I
check W20 '/args?=x'
check W20 '/args?a=1&&b=2'
check W20 '/args?a=b=c'
check W20 '/args?b=2&a=1&c=3&b=1'
check W22 '/args?a=%zz'
check W28 /path/a/b/
check W29 '/bp//x?y=1'
check W31 /f/-1.5
check W31 /f/1.5e3
check W31 /f/.5
check W31 /f/100.0
check W31 /f/0.00001
check W31 /f/12345678901234567890.0
# issue 19: a value the converter refuses ends matching (no next rule); redirects
# come first; floats of any length; a path before a final '/' never ends in '/';
# two variables in one long segment (linear matching, no budget to run out)
check W04 /lim/500
check W04 /lim/50
check W04 /lim/abc
check W04 /lim/500 -X OPTIONS
check W29 /lim//500
check W31 /f/3.14159265358979323846264338327950288419716939937510582097494459230781640628620899862803
check W28 /paths/a///
check W28 '/paths/a//?x=1'
check W28 /paths/a//edit
check W28 /paths/a//b/
check W28 /paths//a/
check W01 "/pair/$(printf '%03000d' 0 | tr 0 -)"
check W01 "/pair/$(printf '%03000d' 0 | tr 0 a)"
ignore="status Content-Length body" why="an int past 64 bits does not match; the next rule may (docs/flask-differences.md)"
check W05 /lim/99999999999999999999
check W32 /u/12345678123412341234123456789abc
check W40 /form -d ''
check W40 /form -d 'a=%41%zz&=e&c'
check W40 /form -H "$JSON" --data-binary '{"a":1}'
check W41 /form -F a=1 -F a=2 -F "f=@$dir/alpha.txt" -F "f=@$dir/alpha.txt;filename=beta.txt" -F "g=@$dir/alpha.txt;filename="
ignore="status Content-Length body" why="int values past 64 bits are 404 (README)"
check W05 /films/99999999999999999999/

fc_done
