#!/bin/sh
# Bad input: every config error path gives its exact FILE:LINE message and exit 2 and
# creates nothing; data errors name the file and record, exit 1 and create nothing.
. "$top_srcdir/tests/cli/lib.sh"
msgs="$fixtures/bad-messages.txt"
nbad=$(grep -c '	' "$msgs")
plan $((nbad * 3 + 38))

# Config errors, from the fixtures' table: "bad-x.ini<TAB>message with FILE for the path".
tab=$(printf '\t')
while IFS="$tab" read -r file want; do
  [ -n "$file" ] || continue
  path="$fixtures/$file"
  expect=$(printf '%s' "$want" | sed "s|FILE|$path|g")
  run_cmd check "$path"
  is 2 "$rc" "check $file exits 2"
  is "$expect" "$err" "check $file: exact message"
  run_cmd run "$path" -o "$tmp/never"
  [ "$rc" = 2 ] && [ ! -e "$tmp/never" ]; ok $? "run $file exits 2 and creates no directory"
done < "$msgs"

# --set errors.
run_cmd check "$fixtures/run-small.ini" --set map.lambda=1e
is 2 "$rc" "--set with a bad number exits 2"
is "--set map.lambda=1e: [map] lambda: '1e' is not a number" "$err" "--set names the assignment"
run_cmd check "$fixtures/run-small.ini" --set nonsense
is 2 "$rc" "--set without = exits 2"
run_cmd check "$tmp/missing.ini"
is 2 "$rc" "a missing config file exits 2"
is "$tmp/missing.ini: cannot open: No such file or directory" "$err" "and says so"

# A config file is read up to 1 MiB: an endless one is a config error, not an
# allocation that grows until memory runs out.
run_cmd check /dev/zero
is 2 "$rc" "check /dev/zero: exit 2"
is "/dev/zero: is larger than 1 MiB (1048576 bytes), the most a configuration file may hold" \
  "$err" "check /dev/zero: the message"

# An empty directory name is a usage error (-o '' once overflowed make_parents' copy of
# the name by starting at its second byte).
run_cmd run "$fixtures/run-small.ini" -o '' --quiet
is 2 "$rc" "run -o '': exit 2"
is "infbench: --output: the directory name is empty" "$err" "run -o '': the message"
run_cmd run --resume '' --quiet
is 2 "$rc" "run --resume '': exit 2"
is "infbench: --resume: the directory name is empty" "$err" "run --resume '': the message"

# Data errors: exit 1, the file and the record named, nothing created.
data_case() { # data_case INI CSV PATTERN DESCRIPTION
  run_cmd run "$fixtures/$1" --set "data.train=$2" -o "$tmp/d"
  is 1 "$rc" "$4: exit 1"
  echo "$err" | grep -q -- "$3"; ok $? "$4: message matches '$3'"
  [ ! -e "$tmp/d" ]; ok $? "$4: no output directory"
}
data_case run-linreg-csv.ini run-ragged.csv 'run-ragged.csv: line 3: 3 fields, but the header has 2' "ragged CSV"
data_case run-linreg-csv.ini run-text.csv "run-text.csv: line 3, column 'x': 'abc' is not a number" "non-numeric cell"
data_case run-linreg-csv.ini run-empty.csv 'run-empty.csv: no data rows' "no rows"
data_case run-linreg-csv.ini nonexistent.csv 'nonexistent.csv: cannot open: No such file or directory' "missing data file"
data_case run-logreg.ini run-badtarget.csv "run-badtarget.csv: line 4: target 'y' is 0.5; logreg needs 0 or 1" "target not 0/1"
run_cmd run "$fixtures/run-linreg-csv.ini" --set data.train=run-huge.csv --set data.standardize=yes \
  -o "$tmp/d"
is 1 "$rc" "1e308 in a standardised feature: exit 1"
is "infbench: $fixtures/run-huge.csv: line 4, column 'x': 1e+308 makes the column's standard deviation overflow; rescale the column or set standardize = no" \
  "$err" "1e308 in a standardised feature: the message names the file, line and column"
[ ! -e "$tmp/d" ]; ok $? "1e308 in a standardised feature: no output directory"
data_case run-logreg.ini run-oneclass.csv "target 'y' has a single class (all 1)" "single class"
run_cmd run "$fixtures/run-linreg-csv.ini" --set data.train=run-text.csv -o "$tmp/d"
echo "$err" | grep -q '^infbench: ' ; ok $? "data errors are prefixed with infbench:"
echo "$err" | grep -q "$fixtures/run-text.csv" ; ok $? "data errors name the file by its resolved path"
run_cmd run "$fixtures/run-linreg-csv.ini" --set data.train=run-ragged.csv --set data.target=nope -o "$tmp/d"
echo "$err" | grep -q "no column named 'nope'" ; ok $? "an unknown target column is named"

# An output directory that fills up: a file-size limit (ulimit -f, with SIGXFSZ ignored so
# the write fails with EFBIG as a full disk fails with ENOSPC) stops the run with exit 1,
# a message naming the file and what to do, and no temporary file left behind.
(trap '' XFSZ; ulimit -f 4; exec "$INFBENCH" run "$fixtures/run-small.ini" -o "$tmp/full" \
  --quiet) >"$tmp/out" 2>"$tmp/err"
rc=$?
err=$(cat "$tmp/err")
is 1 "$rc" "a full output directory: exit 1"
echo "$err" | grep -q "^infbench: writing the outputs: cannot write $tmp/full/[a-z.-]*: .*(free some space, or write"
ok $? "a full output directory: the message names the step and the file and suggests the fix ($err)"
ls "$tmp/full" | grep -q '\.tmp\.'; [ $? -ne 0 ]; ok $? "a full output directory: no temporary file left"
[ $tap_failed -eq 0 ]
