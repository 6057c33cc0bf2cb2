#!/usr/bin/env bash
# Admin calls need the cluster token: a wrong or missing token gets 401 and changes nothing.
source "$(dirname "$0")/lib.sh" "$1"

start_cluster 3
L=$(leader)
url=$(http_url "${L#n}")
out=$("$GRAPE" member add n4 "$(peer_addr 4)" --token wrong 2>&1) && fail "member add with a wrong token succeeded"
[[ $out == *"cluster token"* ]] || fail "unclear error: $out"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/v1/leader/transfer")
[[ $code == 401 ]] || fail "transfer without a token: HTTP $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X DELETE -H "Authorization: Bearer wrong" "$url/v1/members/n2")
[[ $code == 401 ]] || fail "remove with a wrong token: HTTP $code"
[[ $("$GRAPE" member list --format json | jq '.members | length') -eq 3 ]] || fail "members changed"
[[ $(leader) == "$L" ]] || fail "leader changed"
say "ok"
