#!/usr/bin/env bash
# A tour of the REST API with curl alone: sign up, create a document,
# submit edits, read them back in every format, restore a version.
#   ./examples/curl-demo.sh [http://127.0.0.1:8080]
set -euo pipefail
BASE=${1:-http://127.0.0.1:8080}
USER=demo$RANDOM$RANDOM

# field NAME: the value of the first "NAME":"value" in the JSON on stdin.
field() { grep -o "\"$1\":\"[^\"]*\"" | head -n1 | cut -d'"' -f4; }

say() { printf '\n== %s\n' "$*"; }

say "sign up as $USER"
TOKEN=$(curl -fsS -X POST "$BASE/v1/auth/signup" \
	-H 'Content-Type: application/json' \
	-d "{\"username\":\"$USER\",\"password\":\"correct horse battery\",\"name\":\"Demo User\"}" | field token)
AUTH="Authorization: Bearer $TOKEN"

say "create a document"
DOC=$(curl -fsS -X POST "$BASE/v1/documents" -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"title":"Curl demo","text":"Hello world"}' | field id)
echo "document $DOC"

say "edit 1: make it a heading"
curl -fsS -X POST "$BASE/v1/documents/$DOC/ops" -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"version":0,"delta":[{"retain":11},{"retain":1,"attributes":{"header":1}}]}'

say "edit 2: add a bold line, based on version 1"
curl -fsS -X POST "$BASE/v1/documents/$DOC/ops" -H "$AUTH" -H 'Content-Type: application/json' \
	-d '{"version":1,"delta":[{"retain":12},{"insert":"collabd","attributes":{"bold":true}},{"insert":" keeps every edit.\n"}]}'

for format in delta text html markdown; do
	say "content as $format"
	curl -fsS "$BASE/v1/documents/$DOC/content?format=$format" -H "$AUTH"
	echo
done

say "history"
curl -fsS "$BASE/v1/documents/$DOC/ops" -H "$AUTH"

say "restore version 0 (a new edit; history is kept)"
curl -fsS -X POST "$BASE/v1/documents/$DOC/restore" -H "$AUTH" -H 'Content-Type: application/json' -d '{"version":0}'

say "content after the restore"
curl -fsS "$BASE/v1/documents/$DOC/content?format=text" -H "$AUTH"
