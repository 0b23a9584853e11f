#!/bin/sh
# TAP: infbench.ini(5) documents every key of the key table (`infbench list keys`) under
# its section's subsection (".SS [section]", then ".TP" / ".B key"), documents no key the
# table lacks, shows each key's default in its entry, and passes mandoc's lint.
# Environment: INFBENCH (the binary), top_srcdir, MANDOC (may be empty: lint skipped).

top_srcdir=${top_srcdir:-.}
page="$top_srcdir/man/infbench.ini.5"

if [ -z "${INFBENCH:-}" ] || ! keys=$("$INFBENCH" list keys 2>/dev/null) ||
  [ -z "$keys" ]; then
  echo "1..0 # SKIP infbench list keys not available"
  exit 0
fi
if [ ! -r "$page" ]; then
  echo "1..0 # SKIP $page not readable"
  exit 0
fi

nkeys=$(printf '%s\n' "$keys" | grep -c .)
echo "1..$((nkeys + 3))"

# The documented keys: "section.key<TAB>entry text" for every ".TP" + ".B key" at the top
# level of a ".SS [section]" subsection of SECTIONS AND KEYS (nested .RS lists, such as the
# estimator list under [estimators] run, are part of the entry, not keys).
docs=$(awk '
function flush() {
  if (key != "")
    print sec "." key "\t" text
  key = ""
  text = ""
}
/^\.SH/ { flush(); insec = ($0 ~ /SECTIONS AND KEYS/); sec = ""; depth = 0; prev = ""; next }
!insec { next }
/^\.SS/ {
  flush()
  s = $0
  sub(/^\.SS[ \t]+"?\[/, "", s)
  sub(/\]"?[ \t]*$/, "", s)
  sec = s
  prev = ""
  next
}
/^\.RS/ { depth++ }
/^\.RE/ { depth-- }
depth == 0 && /^\.TP/ { flush(); prev = ".TP"; next }
depth == 0 && prev == ".TP" && /^\.B[ \t]/ {
  k = $0
  sub(/^\.B[ \t]+/, "", k)
  gsub(/"/, "", k)
  key = k
  prev = ""
  next
}
{
  prev = $0
  if (key != "") {
    t = $0
    gsub(/\\-/, "-", t)
    sub(/^\.[A-Za-z]+[ \t]*/, "", t)
    gsub(/"/, "", t)
    text = text " " t
  }
}
END { flush() }
' "$page")

# Per key: documented?  Then: nothing documented beyond the table; defaults shown.
{
  printf '%s\n' "$docs"
  echo "@@keys@@"
  printf '%s\n' "$keys"
} | awk -F '\t' '
phase == 0 && $0 == "@@keys@@" { phase = 1; next }
phase == 0 { if ($1 != "") { doc[$1] = $2; order[++ndoc] = $1 }; next }
$1 == "" { next }
{
  n++
  name = $1
  def = $3
  dot = index(name, ".")
  sec = substr(name, 1, dot - 1)
  key = substr(name, dot + 1)
  table[name] = 1
  if (name in doc)
    print "ok " n " - [" sec "] " key " documented in infbench.ini.5"
  else
    print "not ok " n " - [" sec "] " key " documented in infbench.ini.5"
  # no default: "-", "", "\"\"" or a remark in parentheses such as "(required)"
  if (def != "-" && def != "" && def != "\"\"" && def !~ /^\(/ && (name in doc) &&
      index(doc[name], def) == 0)
    baddef = baddef " " name "=" def
}
END {
  extra = ""
  for (i = 1; i <= ndoc; i++)
    if (!(order[i] in table))
      extra = extra " " order[i]
  n++
  if (extra == "")
    print "ok " n " - every key documented in infbench.ini.5 is in the key table"
  else {
    print "not ok " n " - every key documented in infbench.ini.5 is in the key table"
    print "# not in the table:" extra
  }
  n++
  if (baddef == "")
    print "ok " n " - each documented entry shows the default of list keys"
  else {
    print "not ok " n " - each documented entry shows the default of list keys"
    print "# defaults not found:" baddef
  }
}
'

n=$((nkeys + 3))
if [ -z "${MANDOC:-}" ]; then
  echo "ok $n # SKIP mandoc not available"
else
  lint=$("$MANDOC" -Tlint -W warning "$page" 2>&1)
  status=$?
  if [ "$status" -eq 0 ] && [ -z "$lint" ]; then
    echo "ok $n - mandoc -Tlint -W warning is clean on infbench.ini.5"
  else
    echo "not ok $n - mandoc -Tlint -W warning is clean on infbench.ini.5"
    printf '%s\n' "$lint" | sed 's/^/# /'
  fi
fi
