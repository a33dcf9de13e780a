#!/usr/bin/env bash
# The dashboard's files, compiled into the binary and served by `hark
# serve` (docs/api.md "The dashboard"): / and /static/NAME without a token
# (on a server that has tokens, whose API still wants one), the exact bytes
# of web/, the confinement headers (CSP, nosniff, ...), ETag and 304, HEAD,
# 405 and 404 as JSON errors, the Host check as for every route, and a page
# that names no other origin, and the page run by headless Chromium under
# its CSP. One server, no job: a few seconds.
. "$(dirname "$0")/../lib.sh"
WEB=$HARK_SOURCE_DIR/web
TOK=hk-dash-0123456789abcdef0123

# ---- the files themselves: same-origin only, nothing inline ----
check "web/ names no http:// or https:// URL" bash -c "! grep -rniE 'https?://' '$WEB'"
check "index.html has no inline script (every <script> has a src)" \
  bash -c "! grep -iE '<script' '$WEB/index.html' | grep -viq 'src='"
check "index.html has no inline style" bash -c "! grep -iqE '<style|style=' '$WEB/index.html'"
check "index.html has a viewport for phones" grep -q 'name="viewport"' "$WEB/index.html"

HARK_LOG=info HARK_TOKENS="dash:normal:$TOK" start_server "$T/s" --workers 1
check "server started" [ -n "${HARK_SERVER:-}" ]
code() { rm -f "$T/body"; curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"; }
header() { tr -d '\r' < "$T/headers" | sed -n "s/^$1: //Ip" | head -n 1; }

c=$(code "$HARK_SERVER/")
check "GET / without a token: 200 ($c)" [ "$c" = 200 ]
check "/ is text/html with its charset" [ "$(header Content-Type)" = "text/html; charset=utf-8" ]
check "/ is index.html, byte for byte" cmp -s "$T/body" "$WEB/index.html"
csp=$(header Content-Security-Policy)
check "/ has the strict CSP" [ "$csp" = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'" ]
check "/ has nosniff" [ "$(header X-Content-Type-Options)" = nosniff ]
check "/ has no referrer" [ "$(header Referrer-Policy)" = no-referrer ]
check "/ cannot be framed" [ "$(header X-Frame-Options)" = DENY ]
check "/ is revalidated (no-cache)" [ "$(header Cache-Control)" = no-cache ]
etag=$(header ETag)
check "/ has a strong ETag ($etag)" bash -c "[[ '$etag' =~ ^\\\"[0-9a-f]{16}\\\"\$ ]]"
c=$(code -H "If-None-Match: $etag" "$HARK_SERVER/")
check "the ETag back: 304 ($c)" [ "$c" = 304 ]
check "the 304 has no body" [ ! -s "$T/body" ]
check "the 304 repeats the ETag" [ "$(header ETag)" = "$etag" ]
c=$(code -H 'If-None-Match: "0000000000000000"' "$HARK_SERVER/")
check "another ETag: 200 ($c)" [ "$c" = 200 ]

c=$(code "$HARK_SERVER/static/app.js")
check "GET /static/app.js: 200 ($c)" [ "$c" = 200 ]
check "app.js is web/app.js, byte for byte" cmp -s "$T/body" "$WEB/app.js"
check "app.js is text/javascript" [ "$(header Content-Type)" = "text/javascript; charset=utf-8" ]
check "app.js has nosniff" [ "$(header X-Content-Type-Options)" = nosniff ]
jstag=$(header ETag)
check "app.js has its own ETag" [ -n "$jstag" ] && [ "$jstag" != "$etag" ]
c=$(code "$HARK_SERVER/static/app.css")
check "app.css is web/app.css ($c)" cmp -s "$T/body" "$WEB/app.css"
check "app.css is text/css" [ "$(header Content-Type)" = "text/css; charset=utf-8" ]

c=$(curl -s -I -o /dev/null -D "$T/headers" -w '%{http_code} %{size_download}' "$HARK_SERVER/static/app.js")
check "HEAD /static/app.js: 200, no body ($c)" [ "$c" = "200 0" ]
check "HEAD: the length of the file" [ "$(header Content-Length)" = "$(stat -c %s "$WEB/app.js")" ]
check "HEAD: the same ETag" [ "$(header ETag)" = "$jstag" ]

c=$(code -X POST "$HARK_SERVER/")
check "POST /: 405 ($c)" [ "$c" = 405 ]
check "the 405 says what is allowed" [ "$(header Allow)" = "GET, HEAD" ]
check "the 405 is a JSON error" [ "$(jq -r .error.code "$T/body")" = method_not_allowed ]
c=$(code -X DELETE "$HARK_SERVER/static/app.js")
check "DELETE /static/app.js: 405 ($c)" [ "$c" = 405 ]
c=$(code "$HARK_SERVER/static/nope.js")
check "an unknown asset: 404 ($c)" [ "$c" = 404 ]
check "the 404 is a JSON error" [ "$(jq -r .error.code "$T/body")" = asset_not_found ]
c=$(code --path-as-is "$HARK_SERVER/static/../static/app.js")
check "a path with ..: 404 ($c)" [ "$c" = 404 ]
c=$(code "$HARK_SERVER/static/app.js?v=1")
check "a query argument: 400 like other routes ($c)" [ "$c" = 400 ]
c=$(code -H 'Host: evil.example' "$HARK_SERVER/")
check "a Host it does not serve: 421 ($c)" [ "$c" = 421 ]
check "the 421 says host_not_allowed" [ "$(jq -r .error.code "$T/body")" = host_not_allowed ]
c=$(code -H 'Host: evil.example' "$HARK_SERVER/static/app.js")
check "the same for /static: 421 ($c)" [ "$c" = 421 ]

# The page is public; what it shows is not.
c=$(code "$HARK_SERVER/v1/jobs")
check "the API still wants the token: 401 ($c)" [ "$c" = 401 ]
c=$(code -H "Authorization: Bearer $TOK" -H "Origin: $HARK_SERVER" "$HARK_SERVER/v1/jobs")
check "the page's own request with the token: 200 ($c)" [ "$c" = 200 ]

# The page in a real browser, under its own CSP: Debian's headless
# Chromium loads /, runs app.js (a script the policy blocked would leave the
# page as served), which asks the API for the queue, gets the 401 of a
# server with tokens and shows the token form. --dump-dom prints the DOM
# once the page's fetches and timers have had 3 s of virtual time.
queue_401s() { grep -c 'path=/v1/jobs status=401' "$T/s.log"; }
before=$(queue_401s)
timeout 60 /usr/bin/chromium --headless --no-sandbox --disable-gpu --no-first-run \
  --disable-background-networking --disable-component-update --disable-sync \
  --user-data-dir="$T/chromium" --virtual-time-budget=3000 --dump-dom "$HARK_SERVER/" \
  > "$T/dom.html" 2> "$T/chromium.err"
check "chromium ran the page" grep -q '<tbody id="jobs">' "$T/dom.html"
check "app.js ran: the token form is shown (the API said 401)" \
  bash -c "grep -q '<section id=\"signin\"' '$T/dom.html' && ! grep -q '<section id=\"signin\"[^>]*hidden' '$T/dom.html'"
check "app.js ran: the status says a token is needed" grep -q 'an API token is needed' "$T/dom.html"
after=$(queue_401s)
check "the server saw the page ask for the queue ($before then $after 401s)" [ "$after" -gt "$before" ]

stop_server
finish
