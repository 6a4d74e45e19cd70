#!/usr/bin/env bash
# harness/tools/caught-by.sh [NN...] - after make test (or CH=NN
# harness/selftest.sh), record for each mutant the test that caught it, in
# harness/NN-*/mutants/caught-by.tsv (name TAB test). The next make test runs
# that test alone first and grades the mutant in full only if it passes
# (harness/selftest.sh, check_mutant): the same verdict, a fraction of the
# time. An entry that goes stale costs time, never a verdict.
set -eu
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
cd "$ROOT"
for d in harness/[0-9][0-9]-*/; do
	c=$(basename "$d")
	nn=${c%%-*}
	[ $# -eq 0 ] || [[ " $* " == *" $nn "* ]] || continue
	got=build/selftest-$nn/caught-by.tsv
	[ -s "$got" ] || { echo "caught-by: no $got (run CH=$nn harness/selftest.sh first)" >&2; continue; }
	{
		echo "# mutant	the test that caught it (written by harness/tools/caught-by.sh)"
		sort "$got"
	} > "$d/mutants/caught-by.tsv"
	echo "caught-by: $(grep -vc '^#' "$d/mutants/caught-by.tsv") mutants of $c"
done
